// Colours come from VS Code's theme variables so the graph follows light, dark and high-contrast themes. Cytoscape
// paints on a canvas and cannot resolve CSS variables itself, so they are read once per theme change.
import type { NodeState, VariantStatus } from '../shared/protocol';

export interface Palette {
  readonly background: string;
  readonly foreground: string;
  readonly muted: string;
  readonly focus: string;
  readonly fontFamily: string;
  readonly state: Readonly<Record<NodeState, string>>;
  readonly variant: Readonly<Record<VariantStatus, string>>;
  readonly edge: { readonly needs: string; readonly blocks: string; readonly parentChild: string; readonly discoveredFrom: string };
}

/** Fallbacks match VS Code's Dark Modern theme; they are what a page outside VS Code (the benchmark) sees. */
const FALLBACK = {
  '--vscode-editor-background': '#1f1f1f',
  '--vscode-editor-foreground': '#cccccc',
  '--vscode-descriptionForeground': '#9d9d9d',
  '--vscode-disabledForeground': '#6e7681',
  '--vscode-focusBorder': '#0078d4',
  '--vscode-font-family': 'system-ui, sans-serif',
  '--vscode-charts-blue': '#3794ff',
  '--vscode-charts-yellow': '#cca700',
  '--vscode-charts-orange': '#d18616',
  '--vscode-charts-purple': '#b180d7',
  '--vscode-charts-green': '#89d185',
  '--vscode-charts-red': '#f14c4c',
} as const;

type ThemeVariable = keyof typeof FALLBACK;

export function readPalette(style: Pick<CSSStyleDeclaration, 'getPropertyValue'>): Palette {
  const v = (name: ThemeVariable): string => style.getPropertyValue(name).trim() || FALLBACK[name];
  const blue = v('--vscode-charts-blue');
  const yellow = v('--vscode-charts-yellow');
  const orange = v('--vscode-charts-orange');
  const purple = v('--vscode-charts-purple');
  const green = v('--vscode-charts-green');
  const red = v('--vscode-charts-red');
  const muted = v('--vscode-descriptionForeground');
  const disabled = v('--vscode-disabledForeground');
  return {
    background: v('--vscode-editor-background'),
    foreground: v('--vscode-editor-foreground'),
    muted,
    focus: v('--vscode-focusBorder'),
    fontFamily: v('--vscode-font-family'),
    state: { pending: muted, ready: blue, claimed: yellow, active: orange, review: purple, done: green, failed: red, blocked: disabled },
    variant: { candidate: blue, trial: orange, active: green, retired: muted, rejected: disabled },
    edge: { needs: muted, blocks: red, parentChild: blue, discoveredFrom: purple },
  };
}
