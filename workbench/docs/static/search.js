// The search box: every word typed must appear in an entry's name or text (English or Chinese).
(function () {
  const input = document.getElementById("search");
  const list = document.getElementById("results");
  const entries = (window.SEARCH_INDEX || []).map(e =>
    Object.assign({ haystack: (e.name + " " + e.text).toLowerCase() }, e));
  const LIMIT = 40;

  function show(query) {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    list.replaceChildren();
    if (!words.length) { list.hidden = true; return; }
    const found = entries.filter(e => words.every(w => e.haystack.includes(w)));
    // exact names first, then tables, KPIs and columns
    const order = { table: 0, kpi: 1, column: 2 };
    found.sort((a, b) => (b.name.toLowerCase().endsWith(words[0]) - a.name.toLowerCase().endsWith(words[0]))
      || order[a.kind] - order[b.kind] || a.name.localeCompare(b.name));
    for (const e of found.slice(0, LIMIT)) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = e.href;
      const kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = e.kind;
      const text = document.createElement("span");
      text.className = "text";
      text.textContent = e.text;
      link.append(kind, e.name, text);
      item.append(link);
      list.append(item);
    }
    if (!found.length) {
      const item = document.createElement("li");
      item.className = "none";
      item.textContent = "nothing found · 无结果";
      list.append(item);
    }
    list.hidden = false;
  }

  input.addEventListener("input", () => show(input.value));
  input.addEventListener("keydown", ev => {
    if (ev.key === "Enter") {
      const first = list.querySelector("a");
      if (first) window.location.href = first.href;
    } else if (ev.key === "Escape") { input.value = ""; show(""); }
  });
})();
