"""Runnable mocks and the demo portal for integrators and end-to-end tests.

`mock_idps.demo_portal` is an OpenID Connect relying party (a portal) that logs in through the
broker. The mock identity providers the broker logs people in at live here too. Nothing in this
package imports `broker`: each piece talks to the broker only over HTTP, through ordinary
protocol libraries, so that the tests prove interoperability rather than self-agreement.
"""
