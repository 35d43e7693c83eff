/* Feedback maps with Leaflet (served from this site, no CDN). Every page works without it: the
   list of reports, the latitude and longitude inputs and the ward select stay the accessible
   path; the map only adds.

   The page gives its settings as JSON (json_script "feedback-map-config"):
     mode: "reports" (the public map: reports in view, from geojsonUrl, by status colour),
           "pick" (the report form: select or drag to fill #id_latitude / #id_longitude),
           "point" (a report's place);
     tileUrl / tileAttribution: a tile server, or "" for the offline base map of ward centres;
     wards, bounds, centre, zoom, colours, text (translated strings), filters, point. */
(function () {
  "use strict";

  var configNode = document.getElementById("feedback-map-config");
  var container = document.querySelector("[data-map]");
  if (!configNode || !container || typeof window.L === "undefined") {
    return;
  }
  var L = window.L;
  var config = JSON.parse(configNode.textContent);
  var text = config.text || {};
  var section = container.closest("[data-map-section]");
  if (section) {
    section.hidden = false;
  }

  function format(message, n) {
    return String(message || "").replace("%(n)s", String(n));
  }

  function setStatus(node, message) {
    if (node) {
      node.textContent = message || "";
    }
  }

  var bounds = L.latLngBounds(config.bounds);
  var map = L.map(container, {
    maxBounds: bounds.pad(0.25),
    minZoom: 9,
    maxZoom: 19,
    scrollWheelZoom: config.mode === "reports",
    // Drawn only inside the map's box (no layer reaches past the page's edge on a phone).
    renderer: L.svg({ padding: 0 }),
  });
  // Plain text: a small link in the corner would be a target too small to touch.
  map.attributionControl.setPrefix("Leaflet");

  // --- base layer ------------------------------------------------------------------------
  if (config.tileUrl) {
    L.tileLayer(config.tileUrl, {
      attribution: config.tileAttribution || "",
      maxZoom: 19,
    }).addTo(map);
  } else {
    var wards = L.layerGroup();
    (config.wards || []).forEach(function (ward) {
      // Leaflet puts a string tooltip in as HTML: the name goes in as text.
      var name = document.createElement("span");
      name.textContent = ward.name || "";
      L.circleMarker([ward.lat, ward.lng], {
        radius: 3,
        color: "#4b4b55",
        weight: 1,
        fillColor: "#ffffff",
        fillOpacity: 1,
        interactive: false,
      })
        .bindTooltip(name, {
          permanent: true,
          direction: "auto", // towards the map's centre: a name never runs off the map
          offset: [4, 0],
          className: "fb-ward-label",
          interactive: false,
        })
        .addTo(wards);
    });
    wards.addTo(map);
    var note = L.control({ position: "bottomleft" });
    note.onAdd = function () {
      var div = L.DomUtil.create("div", "fb-offline-note");
      div.textContent = text.offline || "";
      return div;
    };
    note.addTo(map);
    var toggleLabels = function () {
      container.classList.toggle("fb-hide-wards", map.getZoom() < 13);
    };
    map.on("zoomend", toggleLabels);
    map.whenReady(toggleLabels);
  }

  var pinIcon = L.divIcon({ className: "fb-pin", iconSize: null, html: "" });

  // --- the public map: reports in view -----------------------------------------------------
  function showReports() {
    var status = document.querySelector("[data-map-status]");
    var layer = L.layerGroup().addTo(map);
    var colours = config.colours || {};
    var timer = null;
    var controller = null;

    function popup(props) {
      var box = L.DomUtil.create("div", "fb-popup");
      var title = L.DomUtil.create("p", "fb-popup-title", box);
      title.textContent = "#" + props.id + " · " + (props.category_name || "");
      var state = L.DomUtil.create("p", "", box);
      state.textContent = props.status_label || "";
      if (props.title) {
        var summary = L.DomUtil.create("p", "", box);
        summary.textContent = props.title;
      }
      var link = L.DomUtil.create("a", "", L.DomUtil.create("p", "", box));
      link.href = props.url;
      link.textContent = text.open || props.url;
      return box;
    }

    function draw(collection) {
      layer.clearLayers();
      var features = (collection && collection.features) || [];
      features.forEach(function (feature) {
        var coords = feature.geometry && feature.geometry.coordinates;
        var props = feature.properties || {};
        if (!coords) {
          return;
        }
        L.circleMarker([coords[1], coords[0]], {
          radius: 8,
          color: "#ffffff",
          weight: 2,
          fillColor: colours[props.status] || "#4b4b55",
          fillOpacity: 1,
        })
          .bindPopup(popup(props))
          .addTo(layer);
      });
      var message = format(text.loaded, features.length);
      if (collection && collection.truncated) {
        message += " " + format(text.tooMany, features.length);
      }
      setStatus(status, message);
    }

    function load() {
      var view = map.getBounds();
      var params = new URLSearchParams(config.filters || {});
      params.set(
        "bbox",
        [view.getWest(), view.getSouth(), view.getEast(), view.getNorth()]
          .map(function (n) {
            return n.toFixed(5);
          })
          .join(",")
      );
      if (controller) {
        controller.abort();
      }
      controller = "AbortController" in window ? new AbortController() : null;
      setStatus(status, text.loading);
      fetch(config.geojsonUrl + "?" + params.toString(), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: controller ? controller.signal : undefined,
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error(String(response.status));
          }
          return response.json();
        })
        .then(draw)
        .catch(function (error) {
          if (!error || error.name !== "AbortError") {
            setStatus(status, text.failed);
          }
        });
    }

    map.on("moveend", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(load, 350); // debounced: one request when the map settles
    });
    map.setView(config.centre, config.zoom || 13);
  }

  // --- the report form: choose the place -------------------------------------------------
  function number(input) {
    var value = parseFloat(String(input.value || "").replace(",", "."));
    return isFinite(value) ? value : null;
  }

  function pickPlace() {
    var lat = document.getElementById("id_latitude");
    var lng = document.getElementById("id_longitude");
    var status = document.querySelector("[data-position-status]");
    var locate = document.querySelector("[data-locate]");
    if (!lat || !lng) {
      return;
    }
    var marker = null;
    var filling = false;

    function fill(latlng) {
      lat.value = latlng.lat.toFixed(6);
      lng.value = latlng.lng.toFixed(6);
      // One change event: the page's htmx check (ward, nearby reports) listens to it.
      filling = true;
      lng.dispatchEvent(new Event("change", { bubbles: true }));
      filling = false;
    }

    function place(latlng, fillInputs) {
      if (marker === null) {
        marker = L.marker(latlng, {
          draggable: true,
          icon: pinIcon,
          title: text.marker,
          alt: text.marker,
          keyboard: true,
        }).addTo(map);
        marker.on("dragend", function () {
          fill(marker.getLatLng());
        });
      } else {
        marker.setLatLng(latlng);
      }
      if (fillInputs) {
        fill(latlng);
      }
    }

    function fromInputs() {
      if (filling) {
        return true; // the map itself wrote the inputs
      }
      var a = number(lat);
      var b = number(lng);
      if (a === null || b === null || Math.abs(a) > 90 || Math.abs(b) > 180) {
        return false;
      }
      place(L.latLng(a, b), false);
      map.setView([a, b], Math.max(map.getZoom() || 0, 16));
      return true;
    }

    map.on("click", function (event) {
      place(event.latlng, true);
    });
    lat.addEventListener("change", fromInputs);
    lng.addEventListener("change", fromInputs);
    if (!fromInputs()) {
      map.setView(config.centre, config.zoom || 14);
    }

    if (locate && navigator.geolocation) {
      locate.hidden = false;
      locate.addEventListener("click", function () {
        setStatus(status, text.locating);
        navigator.geolocation.getCurrentPosition(
          function (position) {
            var here = L.latLng(position.coords.latitude, position.coords.longitude);
            place(here, true);
            map.setView(here, 17);
            setStatus(status, text.located);
          },
          function () {
            setStatus(status, text.locateFailed);
          },
          { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
        );
      });
    }
  }

  // --- a report's place --------------------------------------------------------------------
  function showPoint() {
    var point = config.point;
    L.marker(point, { icon: pinIcon, keyboard: false, interactive: false }).addTo(map);
    map.setView(point, config.zoom || 16);
  }

  if (config.mode === "reports") {
    showReports();
  } else if (config.mode === "pick") {
    pickPlace();
  } else if (config.mode === "point" && config.point) {
    showPoint();
  } else {
    map.setView(config.centre, config.zoom || 13);
  }
})();
