// concord viewer, part 2 of 3: two articles side by side. Both full texts, every claim
// they share highlighted in its label's colour and linked to its partner (a click
// scrolls the other text to it), the labels in the margin, the two texts scrolling
// together; then the shared claims row by row, each in its paragraph. Follows the
// filter; `ctx` is what viewer.js's render shares.
"use strict";

ConcordViewer.pairView = (ctx) => {
  const { el, marked, badge, counts, pairTable, MEANING, COUNTED } = ConcordViewer;
  const { c, texts, state, kept, tally, plainName, name, byline, byPair, pairKey } = ctx;
  const selA = el("select", { id: "pair-a" }, c.articles.map((a) => el("option", { value: a.id }, plainName(a.id))));
  const selB = el("select", { id: "pair-b" }, c.articles.map((a) => el("option", { value: a.id }, plainName(a.id))));
  const pairOut = el("div", { id: "pair-view" });
  const textsOut = el("div", { id: "pair-texts" });
  const together = el("input", { type: "checkbox", id: "scroll-together", checked: "", onchange: (e) => (state.together = e.target.checked) });
  const pairSection = el(
    "section",
    { id: "pair" },
    el("h2", {}, "Two articles side by side"),
    el("p", { class: "pair-choice" }, selA, " and ", selB, " ", el("label", { class: "muted" }, together, " scroll together")),
    textsOut,
    pairOut
  );

  function fullTexts(a, b, rows) {
    textsOut.replaceChildren();
    if (!texts[a] || !texts[b]) return;
    // Per claim: its partners on the other side, its label, the shared spans.
    const marks = [new Map(), new Map()];
    const strength = (l) => COUNTED.indexOf(l);
    for (const m of rows) {
      [
        [0, m.a, m.b, m.evidence.shared.map((s) => s.a)],
        [1, m.b, m.a, m.evidence.shared.map((s) => s.b)],
      ].forEach(([side, self, other, spans]) => {
        const e = marks[side].get(self.passage) || { partners: [], label: m.label, spans: [] };
        e.partners.push(other.passage);
        if (strength(m.label) < strength(e.label)) e.label = m.label;
        e.spans.push(...spans);
        marks[side].set(self.passage, e);
      });
    }
    const cols = [];
    let quietUntil = 0;
    const spanOf = (side, id) => cols[side] && cols[side].querySelector(`[data-passage="${CSS.escape(id)}"]`);
    function focus(side, id, partners) {
      for (const n of textsOut.querySelectorAll(".focus")) n.classList.remove("focus");
      const self = spanOf(side, id);
      if (self) self.classList.add("focus");
      const other = 1 - side;
      let first = null;
      for (const p of partners) {
        const t = spanOf(other, p);
        if (t) {
          t.classList.add("focus");
          first = first || t;
        }
      }
      if (first) {
        // Bring the partner into view without dragging this side along.
        const box = cols[other];
        quietUntil = performance.now() + 250;
        box.scrollTop += first.getBoundingClientRect().top - box.getBoundingClientRect().top - 24;
      }
    }
    [a, b].forEach((id, side) => {
      const paragraphs = [];
      for (const p of texts[id]) {
        const last = paragraphs[paragraphs.length - 1];
        if (last && last.paragraph === p.paragraph) last.passages.push(p);
        else paragraphs.push({ paragraph: p.paragraph, passages: [p] });
      }
      const scroll = el(
        "div",
        { class: "doc-scroll", tabindex: "0" },
        paragraphs.map((para) => {
          const labels = [];
          const body = [];
          let end = null;
          for (const p of para.passages) {
            if (end !== null && p.start > end) body.push(" ");
            end = p.end;
            const e = marks[side].get(p.passage);
            if (!e) {
              body.push(el("span", { class: "claim-text", "data-passage": p.passage }, p.text));
              continue;
            }
            if (!labels.includes(e.label)) labels.push(e.label);
            body.push(
              el(
                "span",
                {
                  class: `claim-text hl ${e.label}`,
                  "data-passage": p.passage,
                  "data-partners": e.partners.join(" "),
                  role: "button",
                  tabindex: "0",
                  title: `${e.label}: ${MEANING[e.label]}. Click to see it in the other article.`,
                  onclick: () => focus(side, p.passage, e.partners),
                  onkeydown: (ev) => (ev.key === "Enter" || ev.key === " ") && (ev.preventDefault(), focus(side, p.passage, e.partners)),
                },
                marked(p.text, e.spans)
              )
            );
          }
          return el("div", { class: "para" }, el("div", { class: "gutter" }, labels.map(badge)), el("p", {}, body));
        })
      );
      cols[side] = scroll;
      textsOut.append(el("div", { class: "doc-col", id: side ? "text-b" : "text-a" }, el("div", { class: "doc-head" }, name(id), " ", byline(id)), scroll));
    });
    // Scrolling one text scrolls the other to the same share of its length (the
    // scroll that follows is not echoed back).
    cols.forEach((box, side) =>
      box.addEventListener("scroll", () => {
        if (!state.together || performance.now() < quietUntil) return;
        const other = cols[1 - side];
        const span = box.scrollHeight - box.clientHeight;
        quietUntil = performance.now() + 100;
        other.scrollTop = span > 0 ? (box.scrollTop / span) * (other.scrollHeight - other.clientHeight) : 0;
      })
    );
  }

  function showPair(a, b, scroll = true) {
    state.pair = [a, b];
    selA.value = a;
    selB.value = b;
    pairOut.replaceChildren();
    textsOut.replaceChildren();
    if (a === b) {
      pairOut.append(el("p", { class: "muted" }, "Choose two different articles."));
      return;
    }
    const p = byPair.get(pairKey(a, b));
    const flip = p && p.a !== a;
    const rows = (p ? kept(p) : []).map((m) => (flip ? { ...m, a: m.b, b: m.a, evidence: { ...m.evidence, shared: m.evidence.shared.map((s) => ({ a: s.b, b: s.a })) } } : m));
    if (flip) rows.sort((x, y) => x.a.start - y.a.start);
    fullTexts(a, b, rows);
    if (!p || p.aligned.length === 0) {
      pairOut.append(el("p", { class: "empty" }, `These articles share no passage at ${c.min_label} or above.`));
    } else if (rows.length === 0) {
      pairOut.append(el("p", { class: "empty" }, "None of their shared passages passes the filter above."));
    } else {
      const n = tally(rows);
      pairOut.append(
        el(
          "p",
          { class: "summary" },
          counts(n),
          `; shared ${p.shared.toFixed(2)}.`,
          n.conflict ? el("strong", { class: "disagree" }, ` These two articles disagree on ${n.conflict === 1 ? "one point" : `${n.conflict} points`}.`) : null
        ),
        el("h3", {}, "The shared claims, row by row"),
        el("p", { class: "muted" }, "Each claim is shown in its paragraph; the claim is highlighted and the text both sides share is marked inside it."),
        pairTable(rows, name(a), name(b))
      );
    }
    if (scroll) pairSection.scrollIntoView({ block: "start" });
  }
  selA.addEventListener("change", () => showPair(selA.value, selB.value));
  selB.addEventListener("change", () => showPair(selA.value, selB.value));

  return { section: pairSection, showPair };
};
