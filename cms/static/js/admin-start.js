// Starts what Wagtail's admin would start with inline scripts (date pickers, inline panels,
// choosers), so that the admin's Content-Security-Policy needs no 'unsafe-inline' script.
// Handoff's templates and cms/wagtail_csp.py leave a hidden marker instead of each script:
//   data-handoff-call="initDateChooser" data-handoff-id="…" data-handoff-options="{json}"
//     → window.initDateChooser(id, options)
//   data-handoff-new="SnippetChooser" [data-handoff-id="…"] data-handoff-options="{json}"
//     → new window.SnippetChooser(id, options), or new window.InlinePanel(options) without id
// Markers in the page are started once it is parsed; markers added later (a new inline form,
// a modal) as soon as they are inserted.
(function () {
  "use strict";

  var MARKERS = "[data-handoff-call], [data-handoff-new]";

  function start(marker) {
    if (marker.handoffStarted || marker.closest("template")) {
      return;
    }
    marker.handoffStarted = true;
    var options = JSON.parse(marker.getAttribute("data-handoff-options") || "{}");
    var id = marker.getAttribute("data-handoff-id");
    var call = marker.getAttribute("data-handoff-call");
    if (call) {
      window[call](id, options);
      return;
    }
    var Made = window[marker.getAttribute("data-handoff-new")];
    if (id === null) {
      new Made(options);
    } else {
      new Made(id, options);
    }
  }

  function startWithin(node) {
    if (node.nodeType !== Node.ELEMENT_NODE) {
      return;
    }
    if (node.matches(MARKERS)) {
      start(node);
    }
    node.querySelectorAll(MARKERS).forEach(start);
  }

  function begin() {
    startWithin(document.body);
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        change.addedNodes.forEach(startWithin);
      });
    }).observe(document.body, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", begin);
  } else {
    begin();
  }
})();
