// The review room's page: plain JavaScript, no build step. Every edit goes to the server,
// which writes the refs file and answers with the whole new state; the page never keeps
// an edit of its own. Each edit carries the version of the file the page shows, so an edit
// from a stale page is refused by the server, never merged.
"use strict";

const token = document.querySelector('meta[name="remaster-token"]').content;
const $ = (id) => document.getElementById(id);
let state = null;      // the last state the server sent
let selected = null;   // the first frame of the selected shot
let frame = null;      // the frame shown in the viewer

function url(path, params = {}) {
  const query = new URLSearchParams({ ...params, token });
  return `${path}?${query}`;
}

function say(text, ok = false) {
  const box = $("message");
  box.textContent = text;
  box.className = ok ? "ok" : "";
  box.hidden = !text;
}

async function call(path, body) {
  const options = { headers: { "X-Remaster-Token": token } };
  if (body instanceof FormData) {
    options.method = "POST";
    options.body = body;
  } else if (body !== undefined) {
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

// An edit: the new state on success, the server's one line on refusal (state unchanged).
async function edit(path, body) {
  try {
    const next = await call(path, body);
    say("");  // before show(), which says what is wrong with the file, if anything
    show(next);
    return true;
  } catch (error) {
    say(error.message);
    return false;
  }
}

function shot(first) {
  return state.shots.find((s) => s.first === first);
}

function show(next) {
  state = next;
  $("title").textContent = state.film;
  const approved = state.shots.filter((s) => s.approved).length;
  $("facts").textContent = `${state.frames} frames at ${state.rate.toFixed(3)} fps, ` +
    `${state.width}x${state.height}; ${state.shots.length} shots, ${approved} approved; ` +
    `refs file ${state.refs}`;
  $("method").textContent = state.method;
  if (state.error) say(state.error);
  const strip = $("strip");
  strip.replaceChildren(...state.shots.map(card));
  // Keep the selection on the shot holding the frame shown, wherever edits moved its bounds.
  const holding = frame === null ? null : state.shots.find((s) => s.first <= frame && frame <= s.last);
  select(holding ? holding.first : state.shots[0].first, holding ? frame : null);
}

function card(s) {
  const element = document.createElement("div");
  element.className = "shot" + (s.approved ? " approved" : "");
  element.dataset.first = s.first;
  element.dataset.approved = s.approved;
  const keyframes = s.keyframes.length
    ? s.keyframes.map((k) => `<span class="badge">keyframe ${k}</span>`).join("")
    : '<span class="badge quiet" title="the frame the reference shows is found by matching">no keyframe</span>';
  const approved = s.approved ? '<span class="badge ok">approved</span>' : "";
  const reference = s.references[0] || "";
  element.innerHTML = `
    <div class="frames">
      <img alt="first frame" loading="lazy" src="${url(`frame/${s.first}.jpg`, { size: "thumb" })}">
      <img alt="last frame" loading="lazy" src="${url(`frame/${s.last}.jpg`, { size: "thumb" })}">
    </div>
    <div class="line"><b>Shot ${s.number}</b> ${s.timecode} – ${s.last_timecode}</div>
    <div class="line">frames ${s.first}–${s.last} (${s.frames}) ${keyframes}${approved}</div>
    <div class="ref"><img alt="reference" loading="lazy" src="${url("reference.jpg", { name: reference, size: "thumb", v: state.version })}">
      <span class="ref-name"></span></div>
    ${s.warnings.map(() => '<div class="warn"></div>').join("")}`;
  element.querySelector(".ref-name").textContent = s.references.join(", ");
  element.querySelectorAll(".warn").forEach((w, k) => { w.textContent = "⚠ " + s.warnings[k]; });
  element.addEventListener("click", () => select(s.first));
  dropTarget(element, () => s.first);
  return element;
}

function select(first, at = null) {
  selected = first;
  const s = shot(first);
  document.querySelectorAll(".shot").forEach((c) => c.classList.toggle("selected", Number(c.dataset.first) === first));
  $("viewer").hidden = false;
  $("shot-title").textContent = `Shot ${s.number}`;
  $("shot-facts").textContent = `frames ${s.first}–${s.last}, ${s.timecode} – ${s.last_timecode}` +
    (s.keyframes.length ? `; keyframe ${s.keyframes.join(", ")}` : "; no keyframe") +
    (s.approved ? "; approved" : "");
  $("reference").src = url("reference.jpg", { name: s.references[0] || "", v: state.version });
  $("reference-name").textContent = s.references.join(", ");
  $("warnings").replaceChildren(...s.warnings.map((w) => {
    const item = document.createElement("li");
    item.textContent = w;
    return item;
  }));
  $("approve").textContent = s.approved ? "Unapprove" : "Approve";
  $("merge").disabled = s === state.shots[state.shots.length - 1];
  $("clear-keyframe").disabled = !s.keyframes.length;
  const slider = $("frame");
  slider.min = s.first;
  slider.max = s.last;
  slider.value = at ?? (s.keyframes[0] ?? Math.floor((s.first + s.last) / 2));
  $("proxy").hidden = true;
  showFrame();
}

function showFrame() {
  frame = Number($("frame").value);
  const s = shot(selected);
  const label = `frame ${frame}` + (s.keyframes.includes(frame) ? " (keyframe)" : "");
  $("frame-label").textContent = label;
  const shown = frame;  // the timecode, as the film's own timecode counts it, from the server
  call(`api/frame/${frame}`).then((facts) => {
    if (frame === shown) $("frame-label").textContent = `${label} · ${facts.timecode}`;
  }).catch(() => {});
  $("grey").src = url(`frame/${frame}.jpg`, {});
  $("wipe").classList.add("loading");  // colour is made on demand: seconds on a CPU
  $("color").src = url(`frame/${frame}.jpg`, { kind: "color", v: state.version });
}

$("color").addEventListener("load", () => $("wipe").classList.remove("loading"));
$("color").addEventListener("error", async (event) => {
  // An image cannot carry the server's message: ask for it again to read it.
  $("wipe").classList.remove("loading");
  const response = await fetch(event.target.src).catch(() => null);
  const data = response ? await response.json().catch(() => ({})) : {};
  say(data.error || "the frame could not be coloured");
});

let sliding = null;
$("frame").addEventListener("input", () => {
  clearTimeout(sliding);  // colour on demand: only where the slider rests
  sliding = setTimeout(showFrame, 120);
});

// Left and right arrows step through the shot, as in an editor's viewer.
document.addEventListener("keydown", (event) => {
  if (!state || event.target.matches("input, select, textarea, button")) return;
  if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
  const slider = $("frame");
  const next = Number(slider.value) + (event.key === "ArrowRight" ? 1 : -1);
  if (next < Number(slider.min) || next > Number(slider.max)) return;
  event.preventDefault();
  slider.value = next;
  clearTimeout(sliding);
  sliding = setTimeout(showFrame, 120);
});

$("wipe-position").addEventListener("input", (event) => {
  const at = event.target.value;
  $("color-clip").style.clipPath = `inset(0 0 0 ${at}%)`;
  $("wipe-line").style.left = `${at}%`;
});

// References: dropped on a shot or the drop zone, chosen with the file input, or picked.

async function upload(first, file) {
  const form = new FormData();
  form.append("file", file);
  form.append("version", state.version);
  form.append("first", first);
  if (!(await edit("api/reference", form))) return;
  listImages();  // the dropped picture is a new file to pick from
  const s = shot(first);
  say(`${file.name} is now the reference of shot ${s.number}` + (s.keyframes.length
    ? `, taken to show its keyframe, frame ${s.keyframes[0]}: clear the keyframe if it shows another frame`
    : ""), true);
}

function dropTarget(element, first) {
  element.addEventListener("dragover", (event) => {
    event.preventDefault();
    element.classList.add("dragover");
  });
  element.addEventListener("dragleave", () => element.classList.remove("dragover"));
  element.addEventListener("drop", (event) => {
    event.preventDefault();
    element.classList.remove("dragover");
    const file = event.dataTransfer.files[0];
    if (file) upload(first(), file);
  });
}
dropTarget($("drop"), () => selected);
$("upload").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) upload(selected, file);
  event.target.value = "";
});

async function listImages() {
  const { images } = await call("api/images");
  $("pick").replaceChildren(...images.map((name) => new Option(name, name)));
}
$("use-pick").addEventListener("click", () =>
  edit("api/pick", { version: state.version, first: selected, name: $("pick").value }));

// Keyframes, shots, approval.

$("set-keyframe").addEventListener("click", () =>
  edit("api/keyframe", { version: state.version, first: selected, frame: Number($("frame").value) }));
$("clear-keyframe").addEventListener("click", () =>
  edit("api/keyframe", { version: state.version, first: selected, frame: null }));
$("split").addEventListener("click", () =>
  edit("api/split", { version: state.version, frame: Number($("frame").value) }));
$("merge").addEventListener("click", () =>
  edit("api/merge", { version: state.version, first: selected }));
$("approve").addEventListener("click", () =>
  edit("api/approve", { version: state.version, first: selected, approved: !shot(selected).approved }));

// Long work: started, then polled; the page stays live meanwhile.

async function follow(task, bar, done) {
  bar.hidden = false;
  for (;;) {
    bar.max = task.total || 1;
    bar.value = task.done;
    if (task.state === "done" || task.state === "failed") break;
    await new Promise((resolve) => setTimeout(resolve, 400));
    task = await call(`api/tasks/${task.id}`);
  }
  bar.dataset.state = task.state;
  if (task.state === "failed") say(task.message);
  else done(task);
}

$("play").addEventListener("click", async () => {
  try {
    const task = await call("api/play", { first: selected });
    await follow(task, $("play-progress"), (finished) => {
      const video = $("proxy");
      video.src = url(finished.result);
      video.hidden = false;
      video.play().catch(() => {});
    });
  } catch (error) {
    say(error.message);
  }
});

async function render(approvedOnly) {
  try {
    followRender(await call("api/render", { approved_only: approvedOnly }));
  } catch (error) {
    say(error.message);
  }
}

async function followRender(task) {
  try {
    $("render-state").textContent = `rendering ${task.label}…`;
    await follow(task, $("render-progress"), (finished) => {
      $("render-state").textContent = "done";
      say(finished.message, true);
    });
    if ($("render-progress").dataset.state === "failed") $("render-state").textContent = "failed";
  } catch (error) {
    say(error.message);
  }
}
$("render-all").addEventListener("click", () => render(false));
$("render-approved").addEventListener("click", () => render(true));

(async () => {
  try {
    show(await call("api/state"));
    await listImages();
    const { tasks } = await call("api/tasks");  // a render started before a reload
    if (tasks.length) followRender(tasks[0]);
  } catch (error) {
    say(error.message);
  }
})();
