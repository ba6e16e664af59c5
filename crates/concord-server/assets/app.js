// concord's page at `/`: browse the collection's articles, paste text to see which
// claims duplicate, overlap, agree with or contradict it, and open the heatmap and
// clusters (rendered by viewer.js from GET /clusters). Talks only to this server's
// JSON API.
"use strict";

(() => {
  const { el, inContext, badge, where, reasons } = ConcordViewer;
  // An article by its title, the id small and muted after it.
  const articleName = (id, title) =>
    title
      ? el("span", { class: "article", "data-id": id }, el("span", { class: "title" }, title), " ", el("span", { class: "id" }, id))
      : el("span", { class: "article", "data-id": id }, el("span", { class: "id only" }, id));
  const $ = (id) => document.getElementById(id);
  const status = (text, isError) => {
    $("status").textContent = text || "";
    $("status").className = isError ? "error" : "muted";
  };

  // Calls the API; asks once for the key when the server wants one.
  async function api(path, body) {
    for (let attempt = 0; attempt < 2; attempt++) {
      const headers = {};
      const key = sessionStorage.getItem("concord-key");
      if (key) headers["Authorization"] = "Bearer " + key;
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const res = await fetch(path, { method: body === undefined ? "GET" : "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) });
      if (res.status === 401 && attempt === 0) {
        const k = window.prompt("This server needs an API key");
        if (!k) break;
        sessionStorage.setItem("concord-key", k);
        continue;
      }
      const data = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(data.error || `${res.status} ${res.statusText}`);
      return data;
    }
    throw new Error("an API key is needed");
  }

  // An error as a reader can act on it: the server's own message, or what a failed
  // fetch means.
  function plainError(e) {
    // fetch rejects with a TypeError when the request never got an answer ("Failed to
    // fetch", "NetworkError...", "Load failed", depending on the browser).
    if (e instanceof TypeError && /fetch|network|load failed/i.test(e.message)) {
      return "The concord server could not be reached. Is `concord serve` still running?";
    }
    return e.message;
  }

  // Runs `f`; on failure says why in the status line and, when given, in `target`
  // (whose old content is gone either way).
  function guarded(f, target) {
    return async (...args) => {
      try {
        status("working…");
        await f(...args);
        status("");
      } catch (e) {
        status(plainError(e), true);
        if (target) $(target).replaceChildren(el("p", { class: "error", role: "alert" }, plainError(e)));
      }
    };
  }

  const showDocument = guarded(async (id) => {
    const d = await api("/documents/" + encodeURIComponent(id));
    $("document").replaceChildren(
      el("h2", {}, articleName(d.id, d.title)),
      el("ol", { start: 0 }, d.passages.map((p) => el("li", {}, p.text)))
    );
  }, "document");

  const loadDocuments = guarded(async () => {
    const list = await api("/documents");
    $("documents").tBodies[0].replaceChildren(
      ...list.documents.map((d) =>
        el("tr", {}, el("td", {}, el("a", { href: "#", class: "doc-link", "data-id": d.id, onclick: (e) => { e.preventDefault(); showDocument(d.id); } }, articleName(d.id, d.title))), el("td", {}, d.passages))
      )
    );
    if (list.documents.length === 0) $("document").replaceChildren(el("p", { class: "muted" }, "The collection is empty: add articles with concord ingest or POST /documents."));
  });

  const find = guarded(async () => {
    const text = $("query").value.trim();
    if (!text) {
      $("results").replaceChildren(el("p", { class: "muted" }, "Paste some text first."));
      return;
    }
    // The old results go at once: nothing on screen belongs to another query.
    $("results").replaceChildren(el("p", { class: "muted" }, "Searching…"));
    const r = await api("/overlaps", { text, min_label: $("min-label").value, boilerplate: $("with-boilerplate").checked });
    const minScore = Number($("search-min-score").value);
    const pairs = r.pairs.filter((m) => m.score >= minScore - 1e-9);
    $("results").replaceChildren(
      pairs.length === 0
        ? el("p", { class: "empty" }, r.pairs.length ? `No match reaches confidence ${minScore.toFixed(2)} (${r.pairs.length} below it).` : "No claim of the collection matches at this level.")
        : el(
            "ol",
            { id: "matches" },
            pairs.map((m) => {
              const why = m.label === "conflict" ? ["this claim contradicts your text", ...reasons(m.evidence)].join("; ") : null;
              return el(
                "li",
                { class: "match " + m.label, "data-label": m.label, "data-passage": m.b.passage },
                badge(m.label),
                ` ${m.score.toFixed(2)} `,
                articleName(m.b.doc, m.b.title),
                " ",
                where(m.b),
                why ? el("div", { class: "why" }, why) : null,
                el("blockquote", {}, inContext(m.b, m.evidence.shared.map((s) => s.b), m.label === "conflict" ? "conflict" : null))
              );
            })
          )
    );
  }, "results");

  let mapLoaded = false;
  const loadMap = guarded(async () => {
    const view = await api("/clusters");
    ConcordViewer.render($("view"), view);
    mapLoaded = true;
  }, "view");

  function openTab(name) {
    for (const b of document.querySelectorAll("header nav button")) b.classList.toggle("active", b.dataset.tab === name);
    for (const t of ["articles", "search", "map"]) $("tab-" + t).hidden = t !== name;
    if (name === "map" && !mapLoaded) loadMap();
  }

  for (const b of document.querySelectorAll("header nav button")) b.addEventListener("click", () => openTab(b.dataset.tab));
  $("find").addEventListener("click", find);
  $("search-min-score").addEventListener("input", (e) => ($("search-min-score-value").textContent = Number(e.target.value).toFixed(2)));
  $("search-min-score").addEventListener("change", find);
  loadDocuments();
})();
