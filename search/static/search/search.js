// The search map: markers for the hits on the page, redrawn when htmx swaps the results.
// Tiles come from the server named in data-tiles (OpenStreetMap's by default, with their
// attribution); without one (tiles switched off) no tile is requested and the markers stand
// on a blank background.
(function () {
  "use strict";
  var map = null;
  var layer = null;

  // A marker's popup: the service's name, linking to its page, and the agency. Built as DOM
  // nodes with textContent: listing text is never parsed as HTML.
  function popup(p) {
    var box = document.createElement("div");
    box.className = "map-popup";
    var title = document.createElement(p.url ? "a" : "strong");
    title.textContent = p.name;
    if (p.url) { title.href = p.url; }
    box.appendChild(title);
    if (p.agency) {
      var agency = document.createElement("div");
      agency.textContent = p.agency;
      box.appendChild(agency);
    }
    return box;
  }

  function draw() {
    var box = document.getElementById("search-map");
    var data = document.getElementById("search-map-points");
    if (!box || !data || typeof L === "undefined") return;
    var points = JSON.parse(data.textContent || "[]");
    if (map && map.getContainer() !== box) { map.remove(); map = null; }
    if (!map) {
      map = L.map(box, { scrollWheelZoom: false });
      if (box.dataset.tiles) {
        L.tileLayer(box.dataset.tiles, {
          attribution: box.dataset.attribution || "", maxZoom: 19
        }).addTo(map);
      }
      layer = L.layerGroup().addTo(map);
    }
    layer.clearLayers();
    var bounds = [];
    points.forEach(function (p) {
      var marker = L.circleMarker([p.lat, p.lng], { radius: 7, weight: 2 });
      marker.bindPopup(popup(p));
      marker.on("click", function () {
        var item = document.getElementById(p.id);
        if (item) { item.scrollIntoView({ behavior: "smooth", block: "nearest" }); }
      });
      marker.addTo(layer);
      bounds.push([p.lat, p.lng]);
    });
    box.dataset.markers = String(points.length);
    if (bounds.length) { map.fitBounds(bounds, { padding: [24, 24], maxZoom: 14 }); }
    else { map.setView([39.5, -98.35], 3); }
  }

  // A changed filter searches again ("filterschange" in the form's hx-trigger); the "Select for
  // referral" boxes of the results belong to another form (form= attribute) and do not. Not an
  // hx-trigger filter: htmx evaluates those as code, which the Content-Security-Policy refuses.
  document.addEventListener("change", function (event) {
    var form = document.getElementById("search-form");
    if (form && event.target.form === form) {
      form.dispatchEvent(new CustomEvent("filterschange"));
    }
  });

  // On a phone the filters sit behind a button (CSS hides them while it says "collapsed").
  function filtersToggle() {
    var form = document.getElementById("search-form");
    var button = form && form.querySelector(".filters-toggle");
    var filters = document.getElementById("search-filters");
    if (!button || !filters) return;
    form.classList.add("js-filters");
    button.hidden = false;
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", open ? "true" : "false");
      filters.classList.toggle("is-open", open);
    });
  }

  document.addEventListener("DOMContentLoaded", filtersToggle);
  document.addEventListener("DOMContentLoaded", draw);
  document.body.addEventListener("htmx:afterSettle", draw);
})();
