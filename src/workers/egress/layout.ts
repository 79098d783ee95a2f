// Where each participant's video goes on a composite's canvas, for LiveKit's layout names:
// grid (equal cells, as square as the count allows), speaker (the speaker large on the left,
// the others in a column on the right) and single-speaker (the speaker alone).

export interface Cell {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Even numbers: x264 and yuv420p want even sizes and offsets. */
const even = (v: number): number => Math.max(2, Math.floor(v / 2) * 2);
const evenOffset = (v: number): number => Math.max(0, Math.floor(v / 2) * 2);

/**
 * One cell per video (null: not shown). `speaker` is the index of the video shown large, or -1
 * for "the first one".
 */
export function layoutCells(layout: string, count: number, width: number, height: number, speaker = -1): Array<Cell | null> {
  if (count === 0) return [];
  const main = speaker >= 0 && speaker < count ? speaker : 0;
  if (layout === 'single-speaker' || (layout === 'speaker' && count === 1)) {
    return Array.from({ length: count }, (_, i) => (i === main ? { x: 0, y: 0, w: even(width), h: even(height) } : null));
  }
  if (layout === 'speaker') {
    const sideW = even(width / 5);
    const mainW = even(width - sideW);
    const others = count - 1;
    const sideH = even(Math.min(height / others, (sideW * 9) / 16));
    let row = 0;
    return Array.from({ length: count }, (_, i) => {
      if (i === main) return { x: 0, y: 0, w: mainW, h: even(height) };
      const cell = { x: mainW, y: evenOffset(row * sideH), w: sideW, h: sideH };
      row++;
      return cell.y + cell.h <= height ? cell : null;
    });
  }
  const cols = Math.ceil(Math.sqrt(count));
  const rows = Math.ceil(count / cols);
  const w = even(width / cols);
  const h = even(height / rows);
  return Array.from({ length: count }, (_, i) => {
    const r = Math.floor(i / cols);
    // A last row that is not full is centred.
    const inRow = r === rows - 1 ? count - r * cols : cols;
    const offset = evenOffset((width - inRow * w) / 2);
    return { x: offset + (i % cols) * w, y: r * h, w, h };
  });
}

/**
 * The speaker layout with its speaker switchable while it runs: a main area (left, four fifths
 * of the width) showing whichever video is selected, and a column on the right with every
 * video as a thumbnail (null: no room left in the column).
 */
export function speakerCells(count: number, width: number, height: number): { main: Cell; side: Array<Cell | null> } {
  const sideW = even(width / 5);
  const main = { x: 0, y: 0, w: even(width - sideW), h: even(height) };
  const sideH = even(Math.min(height / Math.max(1, count), (sideW * 9) / 16));
  const side = Array.from({ length: count }, (_, i) => {
    const cell = { x: main.w, y: evenOffset(i * sideH), w: sideW, h: sideH };
    return cell.y + cell.h <= height ? cell : null;
  });
  return { main, side };
}

export function isLayout(name: string): boolean {
  return name === 'grid' || name === 'speaker' || name === 'single-speaker' || name === '';
}
