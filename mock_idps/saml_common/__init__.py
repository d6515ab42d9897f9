"""What the two MOCK SAML IdPs share: the mock Suomi.fi (`mock_idps.suomifi_idp`) and the mock
organisation IdPs (`mock_idps.org_saml_idp`).

    keys            a test key pair on disk (pysaml2 and xmlsec1 read files), and an impostor pair
    entity          the pysaml2 `Server` of one IdP entity, the SP metadata it trusts, its metadata
    authn_requests  a signed AuthnRequest checked against the SP metadata -> `PendingRequest`
    responses       the Response built from pysaml2's elements, signed and encrypted as asked
    logout          single logout messages: an SP's LogoutRequest read and answered, the mock's
                    own LogoutRequest, an SP's LogoutResponse checked
    faults          test faults that spoil the next N Responses (or LogoutResponses) one way each
    sessions        signed cookies: the IdP session, CSRF double submit, the sealed request;
                    the transient NameID of a session at an SP
    pages           the shared HTML frame, messages and the auto-submitting POST to the ACS
    web             request parameters, the AuthnRequest from a request, the answer page, the
                    health and test routes
    cli             the command line: options, building the app, running it

Like everything under `mock_idps/`, nothing here imports `broker`.
"""
