// The drawing pad of the app: records strokes in canvas pixels (10 per cell, 28 cells a side) and paints them.
// The server turns the strokes into the 28x28 image with the pad's own functions (pixelcourse.widget.rasterise),
// so this file only draws what the pointer did. Runs as the js_on_load of the pad's gr.HTML: `element` is its root.
const canvas = element.querySelector("canvas.pixelcourse-pad");
const ctx = canvas.getContext("2d");
const CELL = 10, GRID = 28;
const pad = { strokes: [], tool: "pen", width: 2.5 };
let current = null;

function paintStroke(s) {
  ctx.strokeStyle = ctx.fillStyle = s.erase ? "#000" : "#fff";
  ctx.lineWidth = s.width * CELL;
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.beginPath();
  if (s.points.length === 1) {
    ctx.arc(s.points[0][0], s.points[0][1], s.width * CELL / 2, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.moveTo(...s.points[0]);
  for (const p of s.points.slice(1)) ctx.lineTo(...p);
  ctx.stroke();
}

function repaint() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  pad.strokes.forEach(paintStroke);
  ctx.strokeStyle = "rgba(128, 128, 128, 0.45)";  // the grid, as in notebook 09's pad
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let k = 1; k < GRID; k++) {
    ctx.moveTo(0, k * CELL + 0.5); ctx.lineTo(GRID * CELL, k * CELL + 0.5);
    ctx.moveTo(k * CELL + 0.5, 0); ctx.lineTo(k * CELL + 0.5, GRID * CELL);
  }
  ctx.stroke();
}

function at(event) {  // pointer position in canvas pixels, whatever size the page shows the canvas at
  const box = canvas.getBoundingClientRect();
  const round = (v) => Math.round(v * 10) / 10;
  return [round((event.clientX - box.left) * canvas.width / box.width),
          round((event.clientY - box.top) * canvas.height / box.height)];
}

function changed() {  // tell the server: it shows what the model will see, and the rows kept
  const trigger = document.querySelector(".pixelcourse-preview-trigger");
  if (trigger) trigger.click();
}

canvas.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  current = { points: [at(event)], width: pad.width, erase: pad.tool === "eraser" };
  pad.strokes.push(current);
  repaint();
});
canvas.addEventListener("pointermove", (event) => {
  if (!current) return;
  current.points.push(at(event));
  repaint();
});
for (const name of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(name, () => {
    if (!current) return;
    current = null;
    changed();
  });
}

const tools = { pen: element.querySelector(".pixelcourse-pen"), eraser: element.querySelector(".pixelcourse-eraser") };
for (const [name, button] of Object.entries(tools)) {
  button.addEventListener("click", () => {
    pad.tool = name;
    for (const b of Object.values(tools)) b.classList.toggle("pixelcourse-active", b === button);
  });
}
element.querySelector(".pixelcourse-brush").addEventListener("input", (event) => {
  pad.width = Number(event.target.value);
});
element.querySelector(".pixelcourse-clear").addEventListener("click", () => {
  pad.strokes = [];
  repaint();
  changed();
});

repaint();
window.pixelcoursePad = { strokes: () => JSON.stringify(pad.strokes) };
