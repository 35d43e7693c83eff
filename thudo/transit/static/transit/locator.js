/* Bus locator home: "stops near me" with the browser's position (only when the rider asks;
   the position goes to this site's nearby.json and nowhere else). The search form and the list
   of routes work without this script. */
(function () {
  "use strict";

  var configNode = document.getElementById("transit-locator-config");
  var section = document.querySelector("[data-nearby-section]");
  if (!configNode || !section || !navigator.geolocation || !window.fetch) {
    return;
  }
  var config = JSON.parse(configNode.textContent);
  var text = config.text || {};
  var button = section.querySelector("[data-nearby-button]");
  var status = section.querySelector("[data-nearby-status]");
  var list = section.querySelector("[data-nearby-list]");
  section.hidden = false;

  function format(message, values) {
    return String(message || "").replace(/%\((\w+)\)s/g, function (_, name) {
      return values && name in values ? String(values[name]) : "";
    });
  }

  function say(message) {
    status.textContent = message || "";
  }

  function badge(route) {
    var span = document.createElement("span");
    span.className = "tr-route";
    span.style.background = route.color;
    span.style.color = route.text_color;
    span.textContent = route.short_name;
    return span;
  }

  function render(stops) {
    list.textContent = "";
    stops.forEach(function (stop) {
      var li = document.createElement("li");
      var link = document.createElement("a");
      link.className = "tr-list-link tr-stop-link";
      link.href = stop.url;
      var ns = "http://www.w3.org/2000/svg";
      var svg = document.createElementNS(ns, "svg");
      svg.setAttribute("class", "icon");
      svg.setAttribute("aria-hidden", "true");
      var use = document.createElementNS(ns, "use");
      use.setAttribute("href", "#t-stop");
      svg.appendChild(use);
      link.appendChild(svg);
      var body = document.createElement("span");
      body.className = "tr-stop-text";
      var name = document.createElement("span");
      name.className = "tr-stop-name";
      name.textContent = stop.name;
      var distance = document.createElement("span");
      distance.className = "muted";
      distance.textContent = format(text.metres, { n: stop.distance_m });
      body.appendChild(name);
      body.appendChild(distance);
      if (stop.routes && stop.routes.length) {
        var row = document.createElement("span");
        row.className = "tr-route-row";
        stop.routes.forEach(function (route) {
          row.appendChild(badge(route));
          row.appendChild(document.createTextNode(" "));
        });
        body.appendChild(row);
      }
      link.appendChild(body);
      li.appendChild(link);
      list.appendChild(li);
    });
  }

  button.addEventListener("click", function () {
    say(text.locating);
    button.disabled = true;
    navigator.geolocation.getCurrentPosition(
      function (position) {
        var params = new URLSearchParams({
          lat: position.coords.latitude.toFixed(6),
          lon: position.coords.longitude.toFixed(6),
        });
        fetch(config.nearbyUrl + "?" + params.toString(), {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        })
          .then(function (response) {
            if (!response.ok) {
              throw new Error(String(response.status));
            }
            return response.json();
          })
          .then(function (body) {
            var stops = body.stops || [];
            render(stops);
            say(stops.length ? format(text.found, { n: stops.length }) : text.none);
          })
          .catch(function () {
            say(text.loadFailed);
          })
          .then(function () {
            button.disabled = false;
          });
      },
      function (error) {
        button.disabled = false;
        say(error && error.code === 1 ? text.denied : text.failed);
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  });
})();
