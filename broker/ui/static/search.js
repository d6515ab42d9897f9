/* The broker's two searches, enhanced: the organisation page's list filters as the person
   types, and the partner-organisation search (registration, account page) fetches its results
   as the person types. Without JavaScript both forms work by submitting them; this file only
   makes the same forms quicker. Served from /static under the CSP's script-src 'self' (no
   inline script); the partner search posts the page's own form (connect-src 'self'). Each
   change of results is announced through an aria-live region that the page renders empty. */
(function () {
  "use strict";

  var ANNOUNCE_DELAY_MS = 400;
  var FETCH_DELAY_MS = 300;

  /* As broker.accounts.catalogue.fold: lower case, accents dropped (ä finds a). */
  function fold(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function words(query) {
    return fold(query).split(/\s+/).filter(function (word) { return word !== ""; });
  }

  function countText(region, count) {
    if (count === 0) {
      return region.getAttribute("data-none");
    }
    return region.getAttribute("data-count").replace("{count}", String(count));
  }

  function organisationSearch(form) {
    var input = form.querySelector("input[type=search]");
    var region = document.getElementById("org-count");
    var items = document.querySelectorAll("#choices li[data-search]");
    var timer = null;

    function filter() {
      var wanted = words(input.value);
      var shown = 0;
      items.forEach(function (item) {
        var key = item.getAttribute("data-search");
        var hit = wanted.every(function (word) { return key.indexOf(word) !== -1; });
        item.hidden = !hit;
        shown += hit ? 1 : 0;
      });
      return wanted.length ? countText(region, shown) : "";
    }

    function announce() {
      region.textContent = filter();
    }

    input.addEventListener("input", function () {
      filter();
      window.clearTimeout(timer);
      timer = window.setTimeout(announce, ANNOUNCE_DELAY_MS);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault(); /* the list is already filtered; keep focus in the field */
      window.clearTimeout(timer);
      announce();
    });
  }

  function partnerSearch(input) {
    var form = input.form;
    var region = document.getElementById("partner-count");
    var timer = null;
    var sent = 0;
    var submitting = false;

    function replaceResults(html, number) {
      if (number !== sent || submitting) {
        return; /* a later search or the form's own submit has overtaken this one */
      }
      var fresh = new DOMParser().parseFromString(html, "text/html");
      var results = fresh.getElementById("partner-results");
      var current = document.getElementById("partner-results");
      if (!results || !current) {
        return;
      }
      current.replaceWith(document.importNode(results, true));
      region.textContent = countText(region, document.querySelectorAll("#partner-results .offered li").length);
    }

    function search() {
      var body = new URLSearchParams(new FormData(form));
      body.set("action", "search");
      sent += 1;
      var number = sent;
      /* getAttribute: form.action would be the form's buttons named "action" */
      window.fetch(form.getAttribute("action"), { method: "POST", body: body, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) { if (html !== null) { replaceResults(html, number); } })
        .catch(function () { /* the form still works by submitting it */ });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(search, FETCH_DELAY_MS);
    });
    form.addEventListener("submit", function () {
      submitting = true;
      window.clearTimeout(timer);
    });
  }

  var organisations = document.querySelector("form[data-filter=organisations]");
  if (organisations) {
    organisationSearch(organisations);
  }
  var partners = document.querySelector("input[data-search=partners]");
  if (partners && partners.form) {
    partnerSearch(partners);
  }
})();
