/** The few parts of blessed-contrib 4.x the dashboard uses (the package ships no types). */
declare module 'blessed-contrib' {
  import type { Widgets } from 'blessed';

  interface Grid {
    set<T>(
      row: number,
      col: number,
      rowSpan: number,
      colSpan: number,
      factory: (opts: Record<string, unknown>) => T,
      opts: Record<string, unknown>,
    ): T;
  }
  interface LineWidget extends Widgets.BoxElement {
    setData(series: Array<{ title: string; x: string[]; y: number[]; style?: { line?: string } }>): void;
  }
  interface GaugeWidget extends Widgets.BoxElement {
    setPercent(percent: number): void;
  }
  interface TableWidget extends Widgets.BoxElement {
    setData(table: { headers: string[]; data: string[][] }): void;
  }
  interface LogWidget extends Widgets.ListElement {
    log(line: string): void;
    logLines: string[];
  }
  const contrib: {
    grid: new (opts: { rows: number; cols: number; screen: Widgets.Screen; hideBorder?: boolean }) => Grid;
    line: (opts: Record<string, unknown>) => LineWidget;
    gauge: (opts: Record<string, unknown>) => GaugeWidget;
    table: (opts: Record<string, unknown>) => TableWidget;
    log: (opts: Record<string, unknown>) => LogWidget;
  };
  export default contrib;
}
