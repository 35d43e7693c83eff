/* The operator's control view (/workspace/transit/): a Leaflet map of every bus coloured by
   status, and the page's tables and figures, refreshed from control.json every few seconds.

   The page works without this script: the server renders the same tables. The script adds the
   map, keeps the tables current and offers a button to pause the updates (WCAG 2.2.2).
   Settings come as JSON (json_script "transit-control-config"): jsonUrl, vehicleUrl (with 0 for
   the id), refreshS, tileUrl / tileAttribution ("" = the offline base map of ward centres),
   wards, bounds, colours, text (translated strings). Every text from the server goes into the
   page with textContent, never as HTML. */
(function () {
  "use strict";

  var configNode = document.getElementById("transit-control-config");
  if (!configNode) {
    return;
  }
  var config = JSON.parse(configNode.textContent);
  var text = config.text || {};
  var refreshMs = Math.max(5, config.refreshS || 15) * 1000;
  var updated = document.querySelector("[data-updated]");
  var pauseButton = document.querySelector("[data-pause]");
  var timer = null;
  var paused = false;
  var lastOk = null;

  function format(message, values) {
    return String(message || "").replace(/%\((\w+)\)s/g, function (_, key) {
      return values && key in values ? String(values[key]) : "";
    });
  }

  function clock(date) {
    // The city's time, whatever the device's own time zone.
    try {
      return date.toLocaleTimeString(document.documentElement.lang || undefined, {
        timeZone: config.timeZone || undefined,
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
        hour12: false,
      });
    } catch (error) {
      return date.toTimeString().slice(0, 8);
    }
  }

  function vehicleUrl(id) {
    return String(config.vehicleUrl || "").replace(/\/0\/$/, "/" + id + "/");
  }

  // --- the map ---------------------------------------------------------------------------
  var map = null;
  var markers = {};
  var markerLayer = null;
  var mapStatus = document.querySelector("[data-map-status]");
  var container = document.querySelector("[data-map]");

  function setUpMap() {
    if (!container || typeof window.L === "undefined") {
      return;
    }
    var L = window.L;
    var section = container.closest("[data-map-section]");
    if (section) {
      section.hidden = false;
    }
    var bounds = L.latLngBounds(config.bounds);
    map = L.map(container, {
      maxBounds: bounds.pad(0.5),
      minZoom: 10,
      maxZoom: 19,
      scrollWheelZoom: false, // the page scrolls; zoom with the buttons or two fingers
      zoomSnap: 0.5,
      renderer: L.svg({ padding: 0 }),
    });
    map.attributionControl.setPrefix("Leaflet");
    if (config.tileUrl) {
      L.tileLayer(config.tileUrl, {
        attribution: config.tileAttribution || "",
        maxZoom: 19,
      }).addTo(map);
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
            className: "tc-ward-label",
            interactive: false,
          })
          .addTo(wards);
      });
      wards.addTo(map);
      var note = L.control({ position: "bottomleft" });
      note.onAdd = function () {
        var div = L.DomUtil.create("div", "tc-offline-note");
        div.textContent = text.offline || "";
        return div;
      };
      note.addTo(map);
      var toggleLabels = function () {
        container.classList.toggle("tc-hide-wards", map.getZoom() < 14);
      };
      map.on("zoomend", toggleLabels);
      map.whenReady(toggleLabels);
    }
    // The routes, faint, under the buses: where the streets are, even offline.
    (config.lines || []).forEach(function (line) {
      L.polyline(line.points, {
        color: line.color ? "#" + line.color : "#4b4b55",
        weight: 3,
        opacity: 0.45,
        interactive: false,
      }).addTo(map);
    });
    map.fitBounds(bounds);
    markerLayer = L.layerGroup().addTo(map);
  }

  function busElement(v) {
    var span = document.createElement("span");
    span.className =
      "tc-bus tc-s-" + v.status + (v.late ? " tc-late" : "") + (v.bunched ? " tc-bunched" : "");
    span.textContent = v.route_short_name || "–";
    return span;
  }

  function popup(v) {
    var box = document.createElement("div");
    box.className = "tc-popup";
    var title = document.createElement("p");
    title.className = "tc-popup-title";
    title.textContent = v.label + (v.license_plate ? " · " + v.license_plate : "");
    box.appendChild(title);
    function line(label, value) {
      if (!value) {
        return;
      }
      var p = document.createElement("p");
      p.textContent = label ? label + ": " + value : value;
      box.appendChild(p);
    }
    line("", v.status_label);
    line(text.route, [v.route_short_name, v.headsign].filter(Boolean).join(" → "));
    line(text.delay, v.delay_text !== "—" ? v.delay_text : "");
    line(text.nextStop, v.next_stop_name);
    line(text.lastReport, v.age_text);
    var flags = [];
    if (v.late) {
      flags.push(text.late);
    }
    if (v.bunched) {
      flags.push(text.bunched);
    }
    line("", flags.join(", "));
    var link = document.createElement("a");
    link.href = vehicleUrl(v.id);
    link.textContent = text.open || link.href;
    var p = document.createElement("p");
    p.appendChild(link);
    box.appendChild(p);
    return box;
  }

  function drawVehicles(vehicles) {
    if (!map) {
      return;
    }
    var L = window.L;
    var seen = {};
    vehicles.forEach(function (v) {
      if (v.lat === null || v.lon === null) {
        return;
      }
      seen[v.id] = true;
      var key = [v.status, v.route_short_name, v.late, v.bunched].join("|");
      var marker = markers[v.id];
      if (!marker) {
        marker = L.marker([v.lat, v.lon], {
          icon: L.divIcon({ className: "tc-bus-icon", iconSize: null, html: busElement(v) }),
          keyboard: false, // the tables are the keyboard's way to every bus
          title: v.label,
          riseOnHover: true,
        });
        marker.bindPopup(popup(v));
        marker.addTo(markerLayer);
        marker._tcKey = key;
        markers[v.id] = marker;
      } else {
        marker.setLatLng([v.lat, v.lon]);
        if (marker._tcKey !== key) {
          marker.setIcon(
            L.divIcon({ className: "tc-bus-icon", iconSize: null, html: busElement(v) })
          );
          marker._tcKey = key;
        }
        marker.setPopupContent(popup(v));
      }
    });
    Object.keys(markers).forEach(function (id) {
      if (!seen[id]) {
        markerLayer.removeLayer(markers[id]);
        delete markers[id];
      }
    });
    if (mapStatus) {
      mapStatus.textContent = format(text.shown, { n: Object.keys(seen).length });
    }
  }

  // --- the tables and figures ------------------------------------------------------------
  function cell(tag, value, className) {
    var node = document.createElement(tag);
    if (tag === "th") {
      node.scope = "row";
    }
    if (className) {
      node.className = className;
    }
    if (value && typeof value === "object" && value.href) {
      var a = document.createElement("a");
      a.href = value.href;
      a.textContent = value.text;
      node.appendChild(a);
      if (value.extra) {
        var extra = document.createElement("span");
        extra.className = value.extraClass || "";
        extra.textContent = value.extra;
        node.appendChild(document.createTextNode(" "));
        node.appendChild(extra);
      }
    } else if (value && typeof value === "object" && value.code) {
      var code = document.createElement("code");
      code.textContent = value.code;
      node.appendChild(code);
    } else {
      node.textContent = value === null || value === undefined || value === "" ? "—" : value;
    }
    return node;
  }

  function vehicleRow(v) {
    return [
      cell("th", { href: vehicleUrl(v.id), text: v.label, extra: v.license_plate, extraClass: "tc-plate" }),
      cell("td", v.route_short_name),
      cell("td", v.headsign),
      cell("td", v.delay_text, "num"),
      cell("td", v.next_stop_name),
      cell("td", v.age_text, "num"),
    ];
  }

  var builders = {
    late: vehicleRow,
    early: vehicleRow,
    ghosts: vehicleRow,
    bunching: function (b) {
      return [
        cell("th", b.route_short_name),
        cell("td", b.headsign),
        cell("td", { href: vehicleUrl(b.ahead.id), text: b.ahead.label }),
        cell("td", { href: vehicleUrl(b.behind.id), text: b.behind.label }),
        cell("td", b.headway_text, "num"),
        cell("td", b.scheduled_headway_text, "num"),
      ];
    },
    routes: function (r) {
      var th = document.createElement("th");
      th.scope = "row";
      var badge = document.createElement("span");
      badge.className = "tc-route";
      if (r.color) {
        badge.style.setProperty("--route", "#" + r.color);
      }
      badge.textContent = r.short_name;
      var long = document.createElement("span");
      long.className = "tc-long";
      long.textContent = r.long_name || "";
      th.appendChild(badge);
      th.appendChild(document.createTextNode(" "));
      th.appendChild(long);
      return [
        th,
        cell("td", r.headsign),
        cell("td", String(r.vehicles), "num"),
        cell("td", r.scheduled_headway_text, "num"),
        cell("td", r.headway_text, "num"),
        cell("td", r.min_headway_text, "num"),
        cell("td", r.stop_headway_text, "num"),
        cell("td", String(r.late), "num"),
        cell("td", String(r.bunching), "num" + (r.bunching ? " tc-alert" : "")),
      ];
    },
    silent_devices: function (d) {
      return [
        cell("th", { code: d.device_id }),
        cell("td", { href: vehicleUrl(d.vehicle_id), text: d.vehicle_label }),
        cell("td", d.age_text, "num"),
      ];
    },
    rejects: function (r) {
      return [
        cell("th", { code: r.device_key }),
        cell("td", String(r.rejected), "num"),
        cell("td", String(r.accepted), "num"),
        cell("td", r.outcomes_text),
        cell("td", r.last_detail),
      ];
    },
  };

  function fillTable(key, rows) {
    var body = document.querySelector('[data-rows="' + key + '"]');
    if (!body || !builders[key]) {
      return;
    }
    var columns = body.closest("table").querySelectorAll("thead th").length;
    var fragment = document.createDocumentFragment();
    (rows || []).forEach(function (row) {
      var tr = document.createElement("tr");
      builders[key](row).forEach(function (node) {
        tr.appendChild(node);
      });
      fragment.appendChild(tr);
    });
    if (!rows || !rows.length) {
      var tr = document.createElement("tr");
      var td = cell("td", text.none, "empty");
      td.colSpan = columns;
      tr.appendChild(td);
      fragment.appendChild(tr);
    }
    body.replaceChildren(fragment);
  }

  function draw(snap) {
    var counts = snap.counts || {};
    document.querySelectorAll("[data-count]").forEach(function (node) {
      var value = counts[node.getAttribute("data-count")];
      if (value !== undefined) {
        node.textContent = String(value);
      }
    });
    Object.keys(builders).forEach(function (key) {
      fillTable(key, snap[key]);
    });
    drawVehicles(snap.vehicles || []);
  }

  // --- refreshing ------------------------------------------------------------------------
  var inFlight = false;

  function load() {
    timer = null;
    if (inFlight) {
      return;
    }
    inFlight = true;
    fetch(config.jsonUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (snap) {
        draw(snap);
        lastOk = new Date();
        if (updated && !paused) {
          updated.textContent = format(text.updated, { time: clock(lastOk) });
        }
      })
      .catch(function () {
        if (updated) {
          updated.textContent = format(text.failed, { time: lastOk ? clock(lastOk) : "—" });
        }
      })
      .then(function () {
        inFlight = false;
        schedule();
      });
  }

  function schedule() {
    if (!paused && timer === null) {
      timer = window.setTimeout(load, refreshMs);
    }
  }

  if (pauseButton) {
    pauseButton.hidden = false;
    pauseButton.addEventListener("click", function () {
      paused = !paused;
      // One label, its state in aria-pressed (a toggle button whose name changed would read
      // as another button).
      pauseButton.setAttribute("aria-pressed", paused ? "true" : "false");
      if (paused) {
        window.clearTimeout(timer);
        timer = null;
        if (updated) {
          updated.textContent = text.paused;
        }
      } else {
        load();
      }
    });
  }

  setUpMap();
  load(); // at once: the map needs the positions the server-rendered tables do not carry
})();
