// The search map: markers for the hits on the page, redrawn when htmx swaps the results.
// Without a tile URL (offline) the markers stand on a blank background.
(function () {
  "use strict";
  var map = null;
  var layer = null;

  function draw() {
    var box = document.getElementById("search-map");
    var data = document.getElementById("search-map-points");
    if (!box || !data || typeof L === "undefined") return;
    var points = JSON.parse(data.textContent || "[]");
    if (map && map.getContainer() !== box) { map.remove(); map = null; }
    if (!map) {
      map = L.map(box, { scrollWheelZoom: false });
      if (box.dataset.tiles) {
        L.tileLayer(box.dataset.tiles, { attribution: box.dataset.attribution || "" }).addTo(map);
      }
      layer = L.layerGroup().addTo(map);
    }
    layer.clearLayers();
    var bounds = [];
    points.forEach(function (p) {
      var marker = L.circleMarker([p.lat, p.lng], { radius: 7, weight: 2 });
      marker.bindTooltip(p.name + " — " + p.agency);
      marker.on("click", function () {
        var item = document.getElementById(p.id);
        if (item) { item.scrollIntoView({ behavior: "smooth", block: "center" }); item.focus(); }
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

  document.addEventListener("DOMContentLoaded", draw);
  document.body.addEventListener("htmx:afterSettle", draw);
})();
