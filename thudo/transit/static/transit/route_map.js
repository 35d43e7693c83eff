/* A route's map with Leaflet (served from this site, no CDN): the shape of the chosen direction,
   its stops, and the buses that report, refreshed every 10 s from vehicles.json and moved
   smoothly to their new positions (at once for riders who ask for reduced motion). The list of
   buses and the list of stops under the map carry the same facts and are refreshed too; the
   page works without this script. The base map is a tile server when MAP_TILE_URL is set, else
   the offline map of ward centres. */
(function () {
  "use strict";

  var configNode = document.getElementById("transit-map-config");
  var container = document.querySelector("[data-map]");
  if (!configNode) {
    return;
  }
  var config = JSON.parse(configNode.textContent);
  var text = config.text || {};
  var route = config.route || {};
  var reduceMotion =
    window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var countNode = document.querySelector("[data-vehicle-count]");
  var listNode = document.querySelector("[data-vehicle-list]");
  var stopList = document.querySelector("[data-stop-list]");
  var offline = document.querySelector("[data-offline]");

  function format(message, values) {
    return String(message || "").replace(/%\((\w+)\)s/g, function (_, name) {
      return values && name in values ? String(values[name]) : "";
    });
  }

  function mine(vehicle) {
    return config.direction === null || config.direction === undefined
      ? true
      : vehicle.direction_id === config.direction;
  }

  function describe(vehicle) {
    var parts = [format(text.bus, { label: vehicle.label })];
    if (vehicle.next_stop_name) {
      parts.push(format(text.next, { name: vehicle.next_stop_name }));
    }
    if (vehicle.delay_text) {
      parts.push(vehicle.delay_text);
    }
    return parts.join(" · ");
  }

  // --- the lists under the map (also without Leaflet) -------------------------------------
  function renderLists(body) {
    var vehicles = (body.vehicles || []).filter(mine);
    if (countNode) {
      var message = body.count_text + " " + body.updated_text + ".";
      if (countNode.textContent !== message) {
        countNode.textContent = message;
      }
    }
    if (listNode) {
      listNode.textContent = "";
      vehicles.forEach(function (vehicle) {
        var li = document.createElement("li");
        var strong = document.createElement("strong");
        strong.textContent = format(text.bus, { label: vehicle.label });
        li.appendChild(strong);
        var rest = [];
        if (vehicle.next_stop_name) {
          rest.push(format(text.next, { name: vehicle.next_stop_name }));
        }
        if (vehicle.delay_text) {
          rest.push(vehicle.delay_text);
        }
        li.appendChild(document.createTextNode(rest.length ? " · " + rest.join(" · ") + " " : " "));
        var age = document.createElement("span");
        age.className = "muted";
        age.textContent = "· " + vehicle.age_text;
        li.appendChild(age);
        listNode.appendChild(li);
      });
    }
    if (stopList) {
      var stops = body.stops || {};
      stopList.querySelectorAll("[data-stop]").forEach(function (li) {
        var next = li.querySelector("[data-next]");
        var info = stops[li.getAttribute("data-stop")];
        next.textContent = "";
        if (!info) {
          return;
        }
        var badge = document.createElement("span");
        badge.className = "tr-badge " + (info.live ? "tr-badge-live" : "tr-badge-sched");
        var ns = "http://www.w3.org/2000/svg";
        var svg = document.createElementNS(ns, "svg");
        svg.setAttribute("class", "icon");
        svg.setAttribute("aria-hidden", "true");
        var use = document.createElementNS(ns, "use");
        use.setAttribute("href", info.live ? "#t-live" : "#t-clock");
        svg.appendChild(use);
        badge.appendChild(svg);
        badge.appendChild(document.createTextNode(info.status_text));
        next.appendChild(badge);
        next.appendChild(document.createTextNode(" " + info.text));
      });
    }
  }

  // --- the map ---------------------------------------------------------------------------
  var map = null;
  var busLayer = null;
  var markers = {};

  function busIcon(vehicle) {
    var html =
      '<div class="tr-bus" style="background:' +
      route.color +
      ";color:" +
      route.text_color +
      '">' +
      (typeof vehicle.bearing === "number"
        ? '<span class="tr-bus-heading" style="transform:rotate(' +
          Math.round(vehicle.bearing) +
          'deg)"></span>'
        : "") +
      '<span class="tr-bus-number"></span></div>';
    var icon = L.divIcon({ className: "tr-bus-icon", html: html, iconSize: [34, 34], iconAnchor: [17, 17] });
    return icon;
  }

  function fillNumber(marker) {
    var node = marker.getElement && marker.getElement();
    if (node) {
      var number = node.querySelector(".tr-bus-number");
      if (number) {
        number.textContent = route.short_name || ""; // text, never HTML
      }
    }
  }

  function animate(marker, to) {
    var from = marker.getLatLng();
    if (reduceMotion || !window.requestAnimationFrame || from.distanceTo(to) > 2000) {
      marker.setLatLng(to);
      return;
    }
    var start = null;
    var duration = 1500;
    function step(t) {
      if (start === null) {
        start = t;
      }
      var k = Math.min(1, (t - start) / duration);
      var e = k < 0.5 ? 2 * k * k : 1 - Math.pow(-2 * k + 2, 2) / 2;
      marker.setLatLng([from.lat + (to.lat - from.lat) * e, from.lng + (to.lng - from.lng) * e]);
      if (k < 1) {
        window.requestAnimationFrame(step);
      }
    }
    window.requestAnimationFrame(step);
  }

  function popupFor(vehicle) {
    var box = document.createElement("div");
    box.className = "tr-popup";
    var title = document.createElement("p");
    title.className = "tr-popup-title";
    title.textContent = format(text.bus, { label: vehicle.label });
    box.appendChild(title);
    [vehicle.headsign, vehicle.next_stop_name ? format(text.next, { name: vehicle.next_stop_name }) : "", vehicle.delay_text, vehicle.age_text]
      .filter(Boolean)
      .forEach(function (line) {
        var p = document.createElement("p");
        p.textContent = line;
        box.appendChild(p);
      });
    return box;
  }

  function drawVehicles(vehicles) {
    if (!map) {
      return;
    }
    var seen = {};
    vehicles.filter(mine).forEach(function (vehicle) {
      var id = vehicle.vehicle_id;
      seen[id] = true;
      var to = L.latLng(vehicle.lat, vehicle.lon);
      var marker = markers[id];
      var label = describe(vehicle);
      if (!marker) {
        marker = L.marker(to, {
          icon: busIcon(vehicle),
          keyboard: true,
          title: label,
          alt: label,
          riseOnHover: true,
          zIndexOffset: 1000,
        }).addTo(busLayer);
        marker.bindPopup(popupFor(vehicle));
        markers[id] = marker;
        fillNumber(marker);
      } else {
        marker.setIcon(busIcon(vehicle));
        fillNumber(marker);
        var node = marker.getElement();
        if (node) {
          node.setAttribute("title", label);
          node.setAttribute("alt", label);
        }
        marker.setPopupContent(popupFor(vehicle));
        animate(marker, to);
      }
    });
    Object.keys(markers).forEach(function (id) {
      if (!seen[id]) {
        busLayer.removeLayer(markers[id]);
        delete markers[id];
      }
    });
  }

  function setupMap() {
    if (!container || typeof window.L === "undefined") {
      return;
    }
    var section = container.closest("[data-map-section]");
    if (section) {
      section.hidden = false;
    }
    var bounds = L.latLngBounds(config.bounds);
    map = L.map(container, {
      maxBounds: bounds.pad(0.25),
      minZoom: 10,
      maxZoom: 19,
      scrollWheelZoom: false,
      renderer: L.svg({ padding: 0 }),
    });
    map.attributionControl.setPrefix("Leaflet");
    // the view first: Leaflet clips lines against it when they are added
    var shape = config.shape || [];
    var points =
      shape.length > 1
        ? shape
        : (config.stops || []).map(function (s) {
            return [s.lat, s.lon];
          });
    if (points.length > 1) {
      map.fitBounds(L.latLngBounds(points), { padding: [16, 16] });
    } else {
      map.setView(bounds.getCenter(), 12);
    }
    if (config.tileUrl) {
      L.tileLayer(config.tileUrl, { attribution: config.tileAttribution || "", maxZoom: 19 }).addTo(map);
    } else {
      var wards = L.layerGroup();
      (config.wards || []).forEach(function (ward) {
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
            direction: "auto",
            offset: [4, 0],
            className: "tr-ward-label",
            interactive: false,
          })
          .addTo(wards);
      });
      wards.addTo(map);
      var note = L.control({ position: "bottomleft" });
      note.onAdd = function () {
        var div = L.DomUtil.create("div", "tr-offline-note");
        div.textContent = text.offline || "";
        return div;
      };
      note.addTo(map);
      var toggleLabels = function () {
        container.classList.toggle("tr-hide-wards", map.getZoom() < 14);
      };
      map.on("zoomend", toggleLabels);
      map.whenReady(toggleLabels);
    }

    if (shape.length > 1) {
      // a dark casing keeps a light route colour visible (3:1) on any base map
      L.polyline(shape, { color: "#1b1b1f", weight: 9, opacity: 0.9, interactive: false }).addTo(map);
      L.polyline(shape, { color: route.color || "#a1121a", weight: 5, opacity: 1, interactive: false }).addTo(map);
    }
    var stopMarkers = [];
    function stopStyle() {
      // small dots when zoomed out (stops 400 m apart would overlap), rings when zoomed in
      var zoom = map.getZoom();
      return zoom >= 15
        ? { radius: 7, weight: 3 }
        : zoom >= 14
          ? { radius: 5, weight: 2 }
          : { radius: 3, weight: 1.5 };
    }
    (config.stops || []).forEach(function (stop) {
      var box = document.createElement("div");
      box.className = "tr-popup";
      var title = document.createElement("p");
      title.className = "tr-popup-title";
      title.textContent = stop.name;
      box.appendChild(title);
      var link = document.createElement("a");
      link.href = stop.url;
      link.textContent = text.openStop;
      box.appendChild(link);
      var marker = L.circleMarker(
        [stop.lat, stop.lon],
        L.extend({ color: "#1b1b1f", fillColor: "#ffffff", fillOpacity: 1 }, stopStyle())
      )
        .bindPopup(box)
        .bindTooltip(stop.name, { direction: "top", offset: [0, -6] })
        .addTo(map);
      stopMarkers.push(marker);
    });
    map.on("zoomend", function () {
      var style = stopStyle();
      stopMarkers.forEach(function (marker) {
        marker.setStyle({ weight: style.weight });
        marker.setRadius(style.radius);
      });
    });
    busLayer = L.layerGroup().addTo(map);
    drawVehicles(config.vehicles || []);
  }

  function refresh() {
    fetch(config.vehiclesUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (body) {
        if (offline) {
          offline.hidden = true;
        }
        drawVehicles(body.vehicles || []);
        renderLists(body);
      })
      .catch(function () {
        if (offline) {
          offline.textContent = text.failed;
          offline.hidden = false;
        }
      });
  }

  setupMap();
  if (window.fetch && config.vehiclesUrl) {
    window.setInterval(refresh, (config.refreshS || 10) * 1000);
  }
})();
