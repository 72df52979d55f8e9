for (const figure of document.querySelectorAll("figure")) {
  figure.querySelector("a.png").href = figure.querySelector("img").src;
}

const DATA = JSON.parse(document.getElementById("data").textContent);
const NUMBER = (v, digits) => (v === null || v === undefined ? "" : Number(v).toFixed(digits));

function makeTable(id, rows, columns, filters) {
  const root = document.getElementById(id);
  const controls = root.querySelector(".controls");
  const table = root.querySelector("table");
  const count = root.querySelector(".count");
  let sortKey = null, sortOrder = 1;
  const selects = {};
  for (const key of filters) {
    const label = document.createElement("label");
    label.textContent = key + " ";
    const select = document.createElement("select");
    select.name = key;
    select.append(new Option("all", ""));
    for (const value of [...new Set(rows.map((r) => r[key]))]) select.append(new Option(value, value));
    select.addEventListener("change", render);
    label.append(select);
    controls.append(label);
    selects[key] = select;
  }
  const search = document.createElement("input");
  search.type = "search"; search.placeholder = "search"; search.addEventListener("input", render);
  controls.append(search);
  const head = table.createTHead().insertRow();
  for (const column of columns) {
    const th = document.createElement("th");
    th.textContent = column.label; th.dataset.key = column.key;
    th.addEventListener("click", () => {
      sortOrder = sortKey === column.key ? -sortOrder : 1; sortKey = column.key;
      for (const other of head.children) delete other.dataset.order;
      th.dataset.order = sortOrder === 1 ? "asc" : "desc";
      render();
    });
    head.append(th);
  }
  const body = table.createTBody();
  function visible() {
    const text = search.value.toLowerCase();
    let shown = rows.filter((r) => filters.every((k) => !selects[k].value || String(r[k]) === selects[k].value));
    if (text) shown = shown.filter((r) => columns.some((c) => String(r[c.key] ?? "").toLowerCase().includes(text)));
    if (sortKey !== null) {
      shown = [...shown].sort((a, b) => {
        const x = a[sortKey], y = b[sortKey];
        if (x === y) return 0;
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))) * sortOrder;
      });
    }
    return shown;
  }
  function render() {
    const shown = visible();
    body.replaceChildren(...shown.map((r) => {
      const tr = document.createElement("tr");
      for (const column of columns) {
        const td = tr.insertCell();
        if (column.render) td.append(column.render(r));
        else td.textContent = column.digits === undefined ? String(r[column.key] ?? "") : NUMBER(r[column.key], column.digits);
        if (column.digits !== undefined) td.className = "number";
      }
      return tr;
    }));
    count.textContent = shown.length + " of " + rows.length + " rows";
    root.dataset.rows = shown.length;
  }
  const download = root.querySelector(".csv");
  if (download) download.addEventListener("click", () => {
    const keys = columns.filter((c) => !c.render).map((c) => c.key);
    const quote = (v) => (v === null || v === undefined ? "" : /[",\n]/.test(String(v)) ? '"' + String(v).replaceAll('"', '""') + '"' : String(v));
    const text = [keys.join(","), ...visible().map((r) => keys.map((k) => quote(r[k])).join(","))].join("\n");
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
    link.download = id + ".csv"; link.click();
  });
  render();
}

function details(run) {
  const box = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "configuration and environment";
  const pre = document.createElement("pre");
  pre.textContent = JSON.stringify({ run_id: run.run_id, config: run.config, environment: run.environment }, null, 1);
  box.append(summary, pre);
  return box;
}

makeTable("scores", DATA.scores, [
  { key: "generator", label: "generator" }, { key: "objective", label: "objective" },
  { key: "probe", label: "probe" }, { key: "atom", label: "atom / task" }, { key: "metric", label: "metric" },
  { key: "mean", label: "mean", digits: 3 }, { key: "std", label: "std", digits: 3 },
  { key: "low", label: "95% low", digits: 3 }, { key: "high", label: "95% high", digits: 3 },
  { key: "seeds", label: "seeds" }, { key: "chance", label: "chance", digits: 3 },
  { key: "bayes", label: "Bayes", digits: 3 }, { key: "truth_bits", label: "exact atom (bits)", digits: 3 },
], ["generator", "objective", "probe", "atom", "metric"]);
makeTable("runs", DATA.runs, [
  { key: "generator", label: "generator" }, { key: "objective", label: "objective" }, { key: "seed", label: "seed" },
  { key: "status", label: "status" }, { key: "seconds", label: "training seconds", digits: 1 },
  { key: "code", label: "code fingerprint" }, { key: "details", label: "run", render: details },
], ["generator", "objective", "seed", "status"]);
