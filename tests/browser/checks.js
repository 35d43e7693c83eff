/* In-page checks for the browser tests (see checks.py). Each returns a list of problems. */
({
  horizontalOverflow() {
    const width = document.documentElement.clientWidth;
    const problems = [];
    const scrollWidth = document.documentElement.scrollWidth;
    if (scrollWidth > width) {
      problems.push(`page is ${scrollWidth}px wide in ${width}px`);
    }
    for (const el of document.body.querySelectorAll("*")) {
      const r = el.getBoundingClientRect();
      const outside = r.right > width + 1 || r.left < -1;
      // Data tables may scroll sideways inside their own region (WCAG 1.4.10 exception).
      const scrolls = el.closest(".table-wrap") && el.closest(".table-wrap") !== el;
      // So may a map's layers, inside the map's own clipped box (the same exception).
      const inMap = el.closest(".leaflet-container") && el.closest(".leaflet-container") !== el;
      if (r.width > 1 && outside && !el.closest(".skip-link") && !scrolls && !inMap) {
        problems.push(`${el.tagName.toLowerCase()}.${el.className}: ${r.left}..${r.right}`);
      }
    }
    return problems;
  },

  contrastFailures() {
    const parse = (colour) => {
      const m = colour.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return { r, g, b, a };
    };
    const channel = (v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    const luminance = ({ r, g, b }) =>
      0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    const background = (el) => {
      for (let node = el; node; node = node.parentElement) {
        const bg = parse(getComputedStyle(node).backgroundColor);
        if (bg && bg.a > 0) return bg;
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    };
    const blend = (fg, bg) => ({
      r: fg.r * fg.a + bg.r * (1 - fg.a),
      g: fg.g * fg.a + bg.g * (1 - fg.a),
      b: fg.b * fg.a + bg.b * (1 - fg.a),
    });
    const problems = [];
    const seen = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const el = walker.currentNode.parentElement;
      if (!walker.currentNode.textContent.trim() || seen.has(el)) continue;
      seen.add(el);
      const box = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if (box.width <= 1 || box.height <= 1 || style.visibility === "hidden") continue;
      const bg = background(el);
      const fg = blend(parse(style.color), bg);
      const [hi, lo] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
      const ratio = (hi + 0.05) / (lo + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) {
        const text = el.textContent.trim().slice(0, 40);
        problems.push(`${el.tagName.toLowerCase()} "${text}": ${ratio.toFixed(2)}:1`);
      }
    }
    return problems;
  },

  smallTargets(minimum) {
    const problems = [];
    const selector = "a[href], button, input:not([type=hidden]), select, textarea, summary";
    for (const el of document.querySelectorAll(selector)) {
      // Links inside a sentence are exempt (WCAG 2.5.5 "inline").
      if (el.closest("p, .site-footer") && !el.matches(".button")) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.width < minimum || r.height < minimum) {
        const text = el.textContent.trim().slice(0, 30);
        problems.push(`${el.tagName.toLowerCase()} "${text}": ${r.width}x${r.height}`);
      }
    }
    return problems;
  },

  unlabelledControls() {
    const problems = [];
    for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
      const named = (el.labels && el.labels.length) || el.getAttribute("aria-label")
        || el.getAttribute("aria-labelledby");
      if (!named) problems.push(`${el.tagName.toLowerCase()}[name=${el.name}]`);
    }
    for (const el of document.querySelectorAll("button, a[href]")) {
      // An image's text alternative names the link or button that holds it.
      const alt = [...el.querySelectorAll("img[alt]")].some((img) => img.alt.trim());
      if (!el.textContent.trim() && !el.getAttribute("aria-label") && !alt) {
        problems.push(el.outerHTML.slice(0, 60));
      }
    }
    return problems;
  },
})
