#!/usr/bin/env node
// The templates in a real ComfyUI in a real (headless) browser, as a user meets them: each opened the way the
// template browser opens it, the nodes that overlap on the canvas (the frontend's own node bounds, title bars
// included), a screenshot; with --run, queued from the page, waited for, checked and photographed again,
// since previews, the Evaluate tables and the speech strip grow nodes after a run.
//
//   node tests/comfyui/browser_check.mjs [--url http://127.0.0.1:8188] [--out DIR] [--run] WORKFLOW.json ...
//   node tests/comfyui/browser_check.mjs --templates OUT.png          the template browser on the pack's templates
//
//   --focus TYPE[,TYPE]   photograph only those nodes, zoomed in (e.g. TAVIDDialogueScript)
//   --script FILE         put this text into the Dialogue Script first (shows its colours, or its error line)
//   --playwright DIR      where playwright-core is installed (default: resolved from here or NODE_PATH)
//   --chromium PATH       the browser (default /usr/bin/chromium, Debian's; Playwright's own download is not needed)
// Prints one JSON object per workflow; exits 1 when nodes overlap or a run fails.
import { createRequire } from "node:module";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";

const args = process.argv.slice(2);
const opt = { url: "http://127.0.0.1:8188", out: "browser_check", run: false, timeout: 1800, width: 1800,
  height: 1000 };
const files = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--run") opt.run = true;
  else if (a.startsWith("--")) opt[a.slice(2)] = args[++i];
  else files.push(a);
}
const require = createRequire(opt.playwright ? join(resolve(opt.playwright), "package.json") : import.meta.url);
const { chromium } = require("playwright-core");

async function open() {
  const profile = mkdtempSync(join(tmpdir(), "tavid-browser-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: opt.chromium || "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    viewport: { width: +opt.width, height: +opt.height },
  });
  const page = context.pages()[0] || await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error" && /tavid/i.test(m.text())) errors.push(m.text()); });
  await page.goto(opt.url, { waitUntil: "domcontentloaded", timeout: 60000 });
  await page.waitForFunction(() => window.app?.graph && window.app.extensionManager, null, { timeout: 60000 });
  await page.waitForTimeout(2500);
  await page.evaluate(() => window.app.extensionManager.setting?.set("Comfy.Minimap.Visible", false)).catch(() => {});
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { page, errors, close };
}

// The nodes as the canvas has them, and every pair whose boxes overlap.
async function layout(page) {
  return page.evaluate(() => {
    const nodes = window.app.graph._nodes.map((n) => ({ id: n.id, type: n.type, title: n.title,
      box: [...n.getBounding()] }));
    const overlaps = [];
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) {
        const [ax, ay, aw, ah] = nodes[i].box, [bx, by, bw, bh] = nodes[j].box;
        const overlap = ax < bx + bw && bx < ax + aw && ay < by + bh && by < ay + ah;
        if (overlap) overlaps.push([nodes[i].title, nodes[j].title]);
      }
    }
    return { nodes, overlaps };
  });
}

// The view fitted to some nodes (all when `types` is empty); the part of the page they cover.
async function frame(page, types) {
  const clip = await page.evaluate((types) => {
    const canvas = window.app.canvas;
    const chosen = window.app.graph._nodes.filter((n) => !types.length || types.includes(n.type));
    const boxes = chosen.map((n) => n.getBounding());
    const x0 = Math.min(...boxes.map((b) => b[0])) - 20, y0 = Math.min(...boxes.map((b) => b[1])) - 20;
    const x1 = Math.max(...boxes.map((b) => b[0] + b[2])) + 20, y1 = Math.max(...boxes.map((b) => b[1] + b[3])) + 20;
    canvas.ds.fitToBounds([x0, y0, x1 - x0, y1 - y0], { zoom: 0.85 });
    canvas.setDirty(true, true);
    const [left, top] = canvas.ds.convertOffsetToCanvas([x0, y0]);
    const [right, bottom] = canvas.ds.convertOffsetToCanvas([x1, y1]);
    const at = canvas.canvas.getBoundingClientRect();
    return { x: at.left + left, y: at.top + top, width: right - left, height: bottom - top };
  }, types);
  await page.waitForTimeout(1000);
  return types.length ? clip : undefined;
}

async function history(id) {
  const response = await fetch(`${opt.url}/history/${id}`);
  return (await response.json())[id];
}

// Queue the graph from the page (as the Run button does) and wait for its end.
async function run(page) {
  const before = new Set(Object.keys(await (await fetch(`${opt.url}/history`)).json()));
  await page.evaluate(() => window.app.queuePrompt(0, 1));
  const start = Date.now();
  while (Date.now() - start < opt.timeout * 1000) {
    await page.waitForTimeout(2000);
    const queue = await (await fetch(`${opt.url}/queue`)).json();
    if (queue.queue_running.length || queue.queue_pending.length) continue;
    const ids = Object.keys(await (await fetch(`${opt.url}/history`)).json()).filter((id) => !before.has(id));
    if (!ids.length) continue;
    const entry = await history(ids[0]);
    const messages = entry.status?.messages ?? [];
    const error = messages.find(([kind]) => kind === "execution_error")?.[1];
    const files = Object.values(entry.outputs ?? {}).flatMap((o) => [...(o.images ?? []), ...(o.videos ?? [])])
      .map((f) => [f.subfolder, f.filename].filter(Boolean).join("/"));
    await page.waitForTimeout(2500);   // the previews and tables come in over the socket
    return { status: entry.status?.status_str, seconds: Math.round((Date.now() - start) / 1000), files,
      error: error && `${error.node_type}: ${error.exception_message}` };
  }
  return { status: "timeout" };
}

async function check(file) {
  const { page, errors, close } = await open();
  try {
    await page.keyboard.press("Escape");   // the template browser opens by itself on a first visit
    const name = basename(file, ".json");
    const workflow = JSON.parse(readFileSync(file, "utf8"));
    await page.evaluate(async ([w, n]) => { await window.app.loadGraphData(w, true, true, n); }, [workflow, name]);
    await page.waitForTimeout(2000);
    if (opt.script) {
      const text = readFileSync(opt.script, "utf8");
      await page.evaluate((text) => {
        const node = window.app.graph._nodes.find((n) => n.type === "TAVIDDialogueScript");
        const textarea = node.widgets.find((w) => w.name === "script").inputEl;
        textarea.value = text;
        textarea.dispatchEvent(new Event("input"));
      }, text);
      await page.waitForTimeout(1500);
    }
    const types = opt.focus ? opt.focus.split(",") : [];
    const report = { workflow: name, opened: await layout(page) };
    const shot = `${name}${types.length ? " " + types.join("+") : ""}`;
    mkdirSync(opt.out, { recursive: true });
    await page.screenshot({ path: join(opt.out, `${shot}.png`), clip: await frame(page, types) });
    if (opt.run) {
      report.run = await run(page);
      report.after_run = await layout(page);
      await page.screenshot({ path: join(opt.out, `${shot} (after run).png`), clip: await frame(page, types) });
    }
    report.page_errors = errors;
    return report;
  } finally {
    await close();
  }
}

async function templates(out) {
  const { page, close } = await open();
  try {
    const dialog = page.locator(".p-dialog");
    if (!(await dialog.count())) {
      await page.evaluate(() => window.app.extensionManager.command.execute("Comfy.BrowseTemplates"));
    }
    await page.getByText(/TAVID/).first().click();
    await page.waitForTimeout(2500);
    await page.screenshot({ path: out });
    const cards = page.locator('[data-testid^="template-workflow-"]');
    const found = await cards.evaluateAll((cards) => cards.map((card) => ({
      name: card.dataset.testid.replace("template-workflow-", ""),
      title: card.querySelector("h3")?.textContent, picture: card.querySelector("img")?.naturalWidth > 0,
    })));
    return { templates: found };
  } finally {
    await close();
  }
}

let failed = false;
if (opt.templates) {
  const result = await templates(opt.templates);
  console.log(JSON.stringify(result));
  failed = !result.templates.length || result.templates.some((t) => !t.picture);
}
for (const file of files) {
  const report = await check(file);
  const bad = report.opened.overlaps.length || report.after_run?.overlaps.length ||
    (report.run && report.run.status !== "success");
  failed ||= Boolean(bad);
  for (const key of ["opened", "after_run"]) {
    if (report[key]) report[key] = { nodes: report[key].nodes.length, overlaps: report[key].overlaps };
  }
  console.log(JSON.stringify(report));
}
process.exit(failed ? 1 : 0);
