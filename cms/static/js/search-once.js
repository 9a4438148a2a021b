// A search form that searches as one types (after a pause), when a field changes and when it is
// sent would otherwise ask several times for the same words: Enter in a text box fires "change"
// and then "submit", and the typing pause ends after both. Each answer replaces the results, the
// later ones under the pointer just as someone reaches for a result, and a click that lands
// during a swap is lost. For a form marked data-search-once, a request that would ask for exactly
// what the form's last request asked for is not sent; after a failed request, or once something
// else (a pager) has put other results in its target, it is.
(function () {
  "use strict";
  var asked = new WeakMap();

  function marked(element) {
    return Boolean(element && element.hasAttribute && element.hasAttribute("data-search-once"));
  }

  function words(formData) {
    var params = new URLSearchParams();
    formData.forEach(function (value, name) {
      if (typeof value === "string") { params.append(name, value); }
    });
    return params.toString();
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var form = event.detail.elt;
    if (!marked(form)) return;
    var now = words(event.detail.formData);
    if (asked.get(form) === now) {
      event.preventDefault();
      return;
    }
    asked.set(form, now);
  });

  // A failed request showed nothing: the same words may be asked again.
  document.addEventListener("htmx:afterRequest", function (event) {
    if (marked(event.detail.elt) && !event.detail.successful) {
      asked.delete(event.detail.elt);
    }
  });

  // (The event's detail.elt is the swapped element here; the one that asked is in requestConfig.)
  document.addEventListener("htmx:afterSwap", function (event) {
    var config = event.detail.requestConfig;
    var from = config ? config.elt : null;
    document.querySelectorAll("[data-search-once]").forEach(function (form) {
      var target = document.querySelector(form.getAttribute("hx-target"));
      if (from !== form && target && target === event.detail.target) {
        asked.delete(form);
      }
    });
  });
})();
