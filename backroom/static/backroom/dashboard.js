// backroom dashboard: refresh the live regions of a page without reloading it.
//
// A region is an element with data-live-url (the same page with ?region=NAME)
// and data-live-every (seconds). Its fresh HTML replaces it; a fresh copy
// without data-live-every (a finished job) stops the polling.
(function () {
  "use strict";

  function autosubmit(root) {
    root.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  function busy(region) {
    // Do not swap a form away under the pointer or the keyboard.
    return region.querySelector("form:hover, form :focus") !== null;
  }

  function poll(region) {
    var every = parseFloat(region.dataset.liveEvery);
    if (!every) {
      return;
    }
    window.setTimeout(function () {
      if (document.hidden || busy(region)) {
        poll(region);
        return;
      }
      fetch(region.dataset.liveUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) {
          if (!response.ok || response.redirected) {
            throw new Error("refresh failed: " + response.status);
          }
          return response.text();
        })
        .then(function (html) {
          var template = document.createElement("template");
          template.innerHTML = html.trim();
          var fresh = template.content.firstElementChild;
          if (!fresh || fresh.id !== region.id) {
            throw new Error("refresh returned another region");
          }
          region.replaceWith(fresh);
          autosubmit(fresh);
          poll(fresh);
        })
        .catch(function () {
          region.classList.add("offline");
          poll(region);
        });
    }, every * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    autosubmit(document);
    document.querySelectorAll("[data-live-url]").forEach(poll);
  });
})();
