// The explorer's page. Every number comes from wengert: explorer.wasm (the engine compiled to
// WebAssembly) answers JSON requests through three exports, or, if it cannot be loaded, the
// local server answers the same JSON at /api with the same code run natively. This file only
// draws what the engine answered; it computes no derivative.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

// ---- The engine: WebAssembly first, the local server's /api as the fallback. ----

async function loadWasm() {
  const imports = {};
  let instance;
  try {
    ({ instance } = await WebAssembly.instantiateStreaming(fetch("explorer.wasm"), imports));
  } catch (streamingError) {
    // A server that does not send application/wasm: instantiate from the bytes instead.
    const response = await fetch("explorer.wasm");
    if (!response.ok) throw new Error(`explorer.wasm: HTTP ${response.status}`);
    ({ instance } = await WebAssembly.instantiate(await response.arrayBuffer(), imports));
  }
  const { memory, explorer_alloc, explorer_free, explorer_handle } = instance.exports;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  return (requestText) => {
    const bytes = encoder.encode(requestText);
    const input = explorer_alloc(bytes.length);
    new Uint8Array(memory.buffer, input, bytes.length).set(bytes);
    const lengthSlot = explorer_alloc(4);
    const output = explorer_handle(input, bytes.length, lengthSlot);
    // Read the memory only after the call: it may have grown (and moved) during it.
    const length = new DataView(memory.buffer).getUint32(lengthSlot, true);
    const text = decoder.decode(new Uint8Array(memory.buffer, output, length).slice());
    explorer_free(output, length);
    explorer_free(lengthSlot, 4);
    explorer_free(input, bytes.length);
    return text;
  };
}

async function askServer(requestText) {
  const response = await fetch("api", { method: "POST", headers: { "Content-Type": "application/json" }, body: requestText });
  if (!response.ok) throw new Error(`/api: HTTP ${response.status}`);
  return response.text();
}

let engine = null; // (requestText) => answer text, or a promise of it

async function startEngine() {
  const badge = $("engine");
  const wanted = new URLSearchParams(location.search).get("engine");
  if (wanted !== "server") {
    try {
      engine = await loadWasm();
      badge.textContent = "engine: WebAssembly (in this page)";
      badge.className = "badge wasm";
      badge.dataset.engine = "wasm";
      return;
    } catch (error) {
      console.warn("explorer.wasm could not be loaded, using the local server:", error);
    }
  }
  engine = askServer;
  badge.textContent = "engine: local server (native)";
  badge.className = "badge server";
  badge.dataset.engine = "server";
}

// The engine's answer, or an error answer if the engine itself failed (a trap, a lost server).
async function ask(request) {
  try {
    return JSON.parse(await engine(JSON.stringify(request)));
  } catch (error) {
    return { ok: false, field: "engine", error: `the engine failed: ${error.message}`, column: null };
  }
}

// ---- State ----

const state = {
  request: { graph: "net231", values: {} },
  answer: null,
  shown: 0,         // how many nodes show their value (forward)
  step: -1,         // index into answer.sweep of the current node, -1 before the sweep
  selected: null,   // a node clicked for its details
  trained: null,    // the last training run's values
  timer: null,
};

function stopAnimation() {
  if (state.timer !== null) { clearInterval(state.timer); state.timer = null; }
}

async function recompute({ keepStep = false } = {}) {
  stopAnimation();
  const answer = await ask(state.request);
  if (!answer.ok) { showError(answer); return false; }
  hideError();
  state.answer = answer;
  state.shown = answer.nodes.length;
  if (!keepStep || state.step >= answer.sweep.length) state.step = -1;
  if (state.selected !== null && state.selected >= answer.nodes.length) state.selected = null;
  renderAll();
  return true;
}

function showError(answer) {
  const box = $("expr-error");
  let text = answer.error;
  if (answer.field === "expression" && answer.column) {
    const expression = state.request.expression || "";
    text = `${expression}\n${" ".repeat(answer.column - 1)}^\n${answer.error}`;
  } else {
    text = `${answer.field}: ${answer.error}`;
  }
  box.textContent = text;
  box.hidden = false;
}

function hideError() { $("expr-error").hidden = true; $("expr-error").textContent = ""; }

// ---- Rendering ----

function renderAll() {
  const a = state.answer;
  $("description").textContent = `${a.title}: ${a.description}`;
  $("loss-label").textContent = a.nodes[a.output].label;
  $("loss-value").textContent = a.loss;
  $("explain").textContent = a.explain;
  renderGraph();
  renderStep();
  renderEditors();
  renderGradients();
  renderCheck(null);
}

// A block of printed numbers in its shape: 0.5, [0.1, 0.2], [[1, 2], [3, 4]].
function block(values, dims) {
  if (dims.length === 0) return values[0];
  if (dims.length === 1) return `[${values.join(", ")}]`;
  const cols = dims[dims.length - 1] || 1;
  const rows = [];
  for (let i = 0; i < values.length; i += cols) rows.push(`[${values.slice(i, i + cols).join(", ")}]`);
  return `[${rows.join(", ")}]`;
}

// The lines a node box shows for a block: every number up to three, else two and a count.
function boxLines(values) {
  if (values.length <= 3) return values.slice();
  return [values[0], values[1], `… ${values.length} values`];
}

const NODE_W = 150, COL_GAP = 40, ROW_GAP = 14, LINE = 13;

function layout(nodes) {
  // Ops sit in the column after their deepest input; a leaf sits just before its first reader.
  const depth = nodes.map(() => 0);
  for (const n of nodes) if (!n.leaf) depth[n.id] = 1 + Math.max(...n.inputs.map((i) => depth[i]));
  for (const n of nodes) {
    if (!n.leaf) continue;
    const readers = nodes.filter((m) => m.inputs.includes(n.id));
    if (readers.length) depth[n.id] = Math.max(0, Math.min(...readers.map((m) => depth[m.id])) - 1);
  }
  const columns = [];
  for (const n of nodes) (columns[depth[n.id]] ||= []).push(n.id);
  return { depth, columns };
}

function nodeHeight(n, adjointShown) {
  const valueLines = boxLines(n.value).length;
  const adjointLines = adjointShown ? boxLines(adjointOf(n.id) || []).length : 0;
  return 2 * LINE + 10 + LINE * (valueLines + adjointLines);
}

function adjointOf(id) {
  const step = state.answer.sweep.find((s) => s.node === id);
  return step ? step.adjoint : null;
}

// Nodes the sweep has passed so far (their adjoint is complete).
function visited() {
  const set = new Set();
  for (let k = 0; k <= state.step; k++) set.add(state.answer.sweep[k].node);
  return set;
}

function renderGraph() {
  const a = state.answer;
  const svg = $("graph");
  svg.replaceChildren();
  const { columns } = layout(a.nodes);
  const done = visited();
  const current = state.step >= 0 ? a.sweep[state.step].node : null;
  const position = {};
  let width = 0, height = 0;
  columns.forEach((ids, c) => {
    let y = 10;
    for (const id of ids || []) {
      const h = nodeHeight(a.nodes[id], true);
      position[id] = { x: 10 + c * (NODE_W + COL_GAP), y, h };
      y += h + ROW_GAP;
    }
    height = Math.max(height, y);
    width = Math.max(width, 10 + (c + 1) * (NODE_W + COL_GAP));
  });
  const zoom = Number($("zoom").value) || 1;
  svg.setAttribute("viewBox", `0 0 ${width} ${height + 4}`);
  svg.setAttribute("width", width * zoom);
  svg.setAttribute("height", (height + 4) * zoom);

  // Edges in recording order: the k-th input read on the tape is numbered k.
  let order = 0;
  const edges = document.createElementNS(SVG, "g");
  for (const n of a.nodes) {
    n.inputs.forEach((input, k) => {
      order += 1;
      const from = position[input], to = position[n.id];
      const x1 = from.x + NODE_W, y1 = from.y + 18, x2 = to.x, y2 = to.y + 18 + k * 8;
      const path = document.createElementNS(SVG, "path");
      const bend = (x2 - x1) / 2;
      path.setAttribute("d", `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`);
      path.setAttribute("class", "edge" + (n.id === current ? " active" : ""));
      edges.appendChild(path);
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", x2 - 12);
      label.setAttribute("y", y2 - 2);
      label.setAttribute("class", "edge-order");
      label.textContent = order;
      edges.appendChild(label);
    });
  }
  svg.appendChild(edges);

  for (const n of a.nodes) {
    const p = position[n.id];
    const g = document.createElementNS(SVG, "g");
    const classes = ["node"];
    if (n.leaf) classes.push("leaf");
    if (n.trainable) classes.push("trainable");
    if (n.id >= state.shown) classes.push("hidden-value");
    if (n.id === current) classes.push("current");
    if (n.id === state.selected) classes.push("selected");
    g.setAttribute("class", classes.join(" "));
    g.setAttribute("transform", `translate(${p.x},${p.y})`);
    g.dataset.node = n.id;
    const rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("width", NODE_W);
    rect.setAttribute("height", p.h);
    g.appendChild(rect);
    const title = document.createElementNS(SVG, "title");
    title.textContent = `#${n.id} ${n.op} ${n.shape} ${n.label}\nvalue ${block(n.value, n.dims)}`;
    g.appendChild(title);
    let y = LINE + 2;
    const line = (text, cls) => {
      const t = document.createElementNS(SVG, "text");
      t.setAttribute("x", 6);
      t.setAttribute("y", y);
      t.setAttribute("class", cls);
      t.textContent = text;
      g.appendChild(t);
      y += LINE;
    };
    line(`#${n.id} ${n.op} ${n.shape}`, "head");
    line(n.label.length > 22 ? n.label.slice(0, 21) + "…" : n.label, "label");
    for (const v of boxLines(n.value)) line(v, "value");
    if (done.has(n.id)) {
      const adjoint = adjointOf(n.id);
      boxLines(adjoint).forEach((v, k) => line(`${k === 0 ? "g " : "  "}${v}`, "adjoint"));
    }
    g.addEventListener("click", () => { state.selected = n.id; renderGraph(); renderStep(); });
    svg.appendChild(g);
  }
  if (current !== null) scrollIntoView(position[current], zoom);
  else if (state.timer !== null && state.shown > 0) scrollIntoView(position[state.shown - 1], zoom);
}

// Scrolls the graph so that the node at `p` (in drawing units) is in view.
function scrollIntoView(node, zoom) {
  const p = { x: node.x * zoom, y: node.y * zoom, h: node.h * zoom };
  const box = $("graph-scroll");
  if (p.x < box.scrollLeft || p.x + NODE_W * zoom > box.scrollLeft + box.clientWidth) box.scrollLeft = Math.max(0, p.x - 40);
  if (p.y < box.scrollTop || p.y + p.h > box.scrollTop + box.clientHeight) box.scrollTop = Math.max(0, p.y - 20);
}

function renderStep() {
  const a = state.answer;
  const total = a.sweep.length;
  $("step-counter").textContent = state.step < 0 ? `sweep: 0 / ${total}` : `sweep: ${state.step + 1} / ${total}`;
  $("step-counter").dataset.step = state.step + 1;
  $("step-counter").dataset.total = total;
  $("step-prev").disabled = $("step-first").disabled = state.step < 0;
  $("step-next").disabled = $("step-last").disabled = state.step >= total - 1;
  const box = $("current");
  box.replaceChildren();
  const dl = document.createElement("dl");
  const row = (term, content, cls, id) => {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    if (cls) dd.className = cls;
    if (id) dd.id = id;
    if (Array.isArray(content)) {
      const ul = document.createElement("ul");
      for (const item of content) { const li = document.createElement("li"); li.textContent = item; ul.appendChild(li); }
      dd.appendChild(ul);
    } else dd.textContent = content;
    dl.append(dt, dd);
  };
  if (state.step >= 0) {
    const s = a.sweep[state.step];
    const n = a.nodes[s.node];
    row("node", `#${n.id} ${n.op} ${n.shape}  (${n.label})`, null, "current-node");
    row("value", block(n.value, n.dims));
    row("adjoint", `d${a.loss_name}/d(${n.label}) = ${block(s.adjoint, n.dims)}`, "adjoint", "current-adjoint");
    row("rule", s.rule, null, "current-rule");
    row("numbers", s.worked, null, "current-worked");
    row("source", `${s.source}  (docs/derivations.md, BACKPROP-NOTES.md)`);
    if (s.equation) row("equation", s.equation, "equation", "current-equation");
  } else {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = "Press Step ▶ (or →) to start the sweep at the loss, whose adjoint is 1.";
    box.appendChild(p);
  }
  if (state.selected !== null && (state.step < 0 || a.sweep[state.step].node !== state.selected)) {
    const n = a.nodes[state.selected];
    const adjoint = visited().has(n.id) ? adjointOf(n.id) : null;
    row("selected", `#${n.id} ${n.op} ${n.shape}  (${n.label})`);
    row("its value", block(n.value, n.dims));
    row("its adjoint", adjoint ? block(adjoint, n.dims) : (n.requires_grad ? "not reached yet" : "none: it needs no gradient"));
  }
  box.appendChild(dl);
}

function renderEditors() {
  const a = state.answer;
  const box = $("leaf-editors");
  box.replaceChildren();
  for (const n of a.nodes.filter((m) => m.leaf)) {
    const div = document.createElement("div");
    div.className = "leaf-editor";
    const head = document.createElement("div");
    head.innerHTML = `<span class="name"></span> <span class="muted"></span>`;
    head.children[0].textContent = n.label;
    head.children[1].textContent = `${n.shape} ${n.trainable ? "trainable" : "data"}`;
    div.appendChild(head);
    const table = document.createElement("table");
    const cols = n.dims.length ? n.dims[n.dims.length - 1] : 1;
    let tr = null;
    n.raw.forEach((x, k) => {
      if (k % cols === 0) { tr = document.createElement("tr"); table.appendChild(tr); }
      const td = document.createElement("td");
      const input = document.createElement("input");
      input.type = "number";
      input.step = "any";
      input.value = String(x);
      input.dataset.leaf = n.label;
      input.dataset.index = k;
      input.setAttribute("aria-label", `${n.label}[${k}]`);
      input.addEventListener("change", onEdit);
      td.appendChild(input);
      tr.appendChild(td);
    });
    div.appendChild(table);
    box.appendChild(div);
  }
}

async function onEdit(event) {
  const input = event.target;
  const value = Number(input.value);
  if (input.value.trim() === "" || !Number.isFinite(value)) { input.value = ""; return; }
  const leaf = state.answer.nodes.find((n) => n.leaf && n.label === input.dataset.leaf);
  const values = (state.request.values[leaf.label] || leaf.raw).slice();
  values[Number(input.dataset.index)] = value;
  state.request.values = { ...state.request.values, [leaf.label]: values };
  await recompute({ keepStep: true });
}

function renderGradients() {
  const a = state.answer;
  const table = $("gradients");
  table.replaceChildren();
  const done = visited();
  const head = document.createElement("tr");
  head.innerHTML = "<th>gradient</th><th>value</th>";
  table.appendChild(head);
  for (const g of a.gradients) {
    g.values.forEach((v, k) => {
      const tr = document.createElement("tr");
      const name = g.values.length === 1 ? `${g.name}` : `${g.name}[${k}]`;
      const td1 = document.createElement("td");
      td1.textContent = `d${a.loss_name}/d${name}`;
      const td2 = document.createElement("td");
      td2.className = "grad";
      // Shown once the sweep has reached the leaf: until then its adjoint is not complete.
      td2.textContent = done.has(g.node) ? v : "…";
      td2.dataset.name = name;
      tr.append(td1, td2);
      table.appendChild(tr);
    });
  }
}

function renderCheck(check) {
  const table = $("check-table");
  table.replaceChildren();
  $("check-summary").textContent = "";
  if (!check) return;
  $("check-summary").textContent = check.passes
    ? `Every gradient agrees with central differences (largest difference ${check.max_abs_error}).`
    : `Some gradients disagree (largest difference ${check.max_abs_error}): at a kink such as relu at 0, central differences average the two one-sided slopes.`;
  const head = document.createElement("tr");
  head.innerHTML = "<th>element</th><th>tape</th><th>central difference</th><th></th>";
  table.appendChild(head);
  for (const r of check.rows) {
    const tr = document.createElement("tr");
    if (!r.agrees) tr.className = "disagrees";
    for (const text of [r.name, r.analytic, r.numeric, r.agrees ? "✓" : "✗"]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    table.appendChild(tr);
  }
}

function renderLossPlot(train) {
  const svg = $("loss-plot");
  svg.replaceChildren();
  const W = 420, H = 220, left = 30, right = 10, top = 10, bottom = 30;
  const points = train.losses.map((y, x) => [x, y]).filter(([, y]) => y !== null && Number.isFinite(y));
  if (points.length === 0) return;
  const ys = points.map(([, y]) => y);
  let lo = Math.min(...ys), hi = Math.max(...ys);
  if (hi === lo) { hi += 1; lo -= 1; }
  const xMax = Math.max(1, train.losses.length - 1);
  const sx = (x) => left + (x / xMax) * (W - left - right);
  const sy = (y) => top + (1 - (y - lo) / (hi - lo)) * (H - top - bottom);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
  };
  add("line", { x1: left, y1: top, x2: left, y2: H - bottom, stroke: "#9aa6b8" });
  add("line", { x1: left, y1: H - bottom, x2: W - right, y2: H - bottom, stroke: "#9aa6b8" });
  // The first and the last loss, as the engine printed them, beside their points.
  add("text", { x: left + 6, y: Math.max(top + 10, sy(points[0][1]) + 4) }, train.first);
  add("text", { x: W - right, y: sy(points[points.length - 1][1]) - 6, "text-anchor": "end" }, train.last);
  add("text", { x: left, y: H - 10 }, "0");
  add("text", { x: W - right, y: H - 10, "text-anchor": "end" }, `step ${xMax}`);
  add("polyline", { points: points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ") });
}

// ---- The sweep and the forward pass ----

function setStep(step) {
  stopAnimation();
  state.shown = state.answer.nodes.length;
  state.step = Math.max(-1, Math.min(step, state.answer.sweep.length - 1));
  renderGraph();
  renderStep();
  renderGradients();
}

function runForward() {
  stopAnimation();
  state.step = -1;
  state.shown = 0;
  renderGraph();
  renderStep();
  renderGradients();
  state.timer = setInterval(() => {
    state.shown += 1;
    renderGraph();
    if (state.shown >= state.answer.nodes.length) stopAnimation();
  }, 180);
}

// ---- Wiring ----

async function chooseGraph() {
  const graph = $("graph-select").value;
  $("expression-box").hidden = graph !== "expression";
  state.request = { graph, values: {} };
  if (graph === "expression") state.request.expression = $("expression").value;
  state.selected = null;
  state.trained = null;
  $("keep").disabled = true;
  $("train-summary").textContent = "";
  $("loss-plot").replaceChildren();
  await recompute();
}

async function buildExpression() {
  const previous = state.request;
  state.request = { graph: "expression", expression: $("expression").value, values: {} };
  state.selected = null;
  // On an error the previous graph stays, and so does its request.
  if (!(await recompute())) state.request = previous;
}

async function checkGradients() {
  const answer = await ask({ ...state.request, check: true });
  if (!answer.ok) { showError(answer); return; }
  renderCheck(answer.check);
}

async function train() {
  const steps = Number($("train-steps").value), rate = Number($("train-lr").value);
  const answer = await ask({ ...state.request, train: { steps, learning_rate: rate } });
  if (!answer.ok) { showError(answer); return; }
  hideError();
  const t = answer.train;
  $("train-summary").textContent = `${t.steps} steps at learning rate ${t.learning_rate}: loss ${t.first} → ${t.last}`;
  $("train-summary").dataset.last = t.last;
  renderLossPlot(t);
  state.trained = t.values;
  $("keep").disabled = false;
}

async function keepTrained() {
  if (!state.trained) return;
  state.request.values = { ...state.request.values, ...state.trained };
  state.trained = null;
  $("keep").disabled = true;
  await recompute();
}

function onKey(event) {
  const tag = (event.target.tagName || "").toLowerCase();
  if (tag === "input" || tag === "select" || tag === "textarea") return;
  if (!state.answer) return;
  if (event.key === "ArrowRight") { setStep(state.step + 1); event.preventDefault(); }
  if (event.key === "ArrowLeft") { setStep(state.step - 1); event.preventDefault(); }
}

async function main() {
  await startEngine();
  $("graph-select").addEventListener("change", chooseGraph);
  $("build").addEventListener("click", buildExpression);
  $("expression").addEventListener("keydown", (e) => { if (e.key === "Enter") buildExpression(); });
  $("forward").addEventListener("click", runForward);
  $("zoom").addEventListener("change", renderGraph);
  $("step-first").addEventListener("click", () => setStep(-1));
  $("step-prev").addEventListener("click", () => setStep(state.step - 1));
  $("step-next").addEventListener("click", () => setStep(state.step + 1));
  $("step-last").addEventListener("click", () => setStep(state.answer.sweep.length - 1));
  $("check").addEventListener("click", checkGradients);
  $("train").addEventListener("click", train);
  $("keep").addEventListener("click", keepTrained);
  document.addEventListener("keydown", onKey);
  await chooseGraph();
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  $("engine").textContent = `the engine could not start: ${error.message}`;
  console.error(error);
});
