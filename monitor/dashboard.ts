/**
 * The --watch terminal dashboard (blessed-contrib): throughput charts, progress gauge with ETA,
 * queue and DLQ depth, counts, failures by class, stuck items, workers, recent failures, and a
 * status line. It only draws a DashboardModel; reading and error handling live in watch.ts.
 */
import blessed from 'blessed';
import contrib from 'blessed-contrib';
import { FAILURE_COLUMNS, STUCK_COLUMNS, WORKER_COLUMNS, type DashboardModel } from './dashboard-model.js';

export class Dashboard {
  private readonly screen: blessed.Widgets.Screen;
  private readonly itemsChart;
  private readonly mibChart;
  private readonly gauge;
  private readonly queueBox;
  private readonly summaryBox;
  private readonly failuresTable;
  private readonly stuckTable;
  private readonly workersTable;
  private readonly recentLog;
  private readonly status: blessed.Widgets.BoxElement;
  private shownFailures = new Set<string>();

  constructor(opts: { onQuit: () => void }) {
    this.screen = blessed.screen({ smartCSR: true, title: 'convoy monitor', autoPadding: true, warnings: false });
    const grid = new contrib.grid({ rows: 24, cols: 12, screen: this.screen });
    const chart = {
      showLegend: false,
      minY: 0,
      xLabelPadding: 3,
      xPadding: 3,
      numYLabels: 4,
      style: { line: 'yellow', text: 'green', baseline: 'white' },
    };
    this.itemsChart = grid.set(0, 0, 8, 6, contrib.line, { ...chart, label: ' items/min (last 30 min) ' });
    this.mibChart = grid.set(0, 6, 8, 6, contrib.line, {
      ...chart,
      label: ' MiB/s (last 30 min) ',
      style: { ...chart.style, line: 'cyan' },
    });
    this.gauge = grid.set(8, 0, 3, 6, contrib.gauge, { label: ' progress ', stroke: 'green', fill: 'white' });
    this.queueBox = grid.set(8, 6, 3, 6, blessed.box, { label: ' queue / DLQ ', tags: false });
    this.summaryBox = grid.set(11, 0, 6, 4, blessed.box, { label: ' items ', tags: false });
    const table = { keys: false, interactive: false, columnSpacing: 2 };
    this.failuresTable = grid.set(11, 4, 6, 4, contrib.table, {
      ...table,
      label: ' failures by class ',
      columnWidth: [24, 8],
    });
    this.stuckTable = grid.set(11, 8, 6, 4, contrib.table, {
      ...table,
      label: ' stuck items ',
      columnWidth: [13, 7, 40],
    });
    this.workersTable = grid.set(17, 0, 6, 7, contrib.table, {
      ...table,
      label: ' workers ',
      columnWidth: [10, 12, 7, 9, 9, 7, 10, 8],
    });
    this.recentLog = grid.set(17, 7, 6, 5, contrib.log, { label: ' recent failures ', bufferLength: 50 });
    this.status = blessed.box({
      parent: this.screen,
      bottom: 0,
      left: 0,
      width: '100%',
      height: 1,
      content: 'starting...',
      style: { fg: 'black', bg: 'white' },
    });
    this.screen.key(['q', 'C-c', 'escape'], () => opts.onQuit());
    this.screen.render();
  }

  update(m: DashboardModel): void {
    this.screen.title = m.title;
    // blessed-contrib's line chart needs a non-flat series to scale its axis.
    const series = (s: DashboardModel['itemsSeries']) => [
      { title: s.title, x: s.x.length ? s.x : ['-'], y: s.y.length ? s.y : [0] },
    ];
    this.itemsChart.setData(series(m.itemsSeries));
    this.mibChart.setData(series(m.mibSeries));
    this.gauge.setPercent(m.progressPercent);
    this.gauge.setLabel(` ${m.progressLabel} `);
    this.queueBox.setContent(m.queueText);
    this.summaryBox.setContent(m.summaryText);
    this.failuresTable.setData({ headers: FAILURE_COLUMNS, data: m.failureRows });
    this.stuckTable.setData({ headers: STUCK_COLUMNS, data: m.stuckRows });
    this.workersTable.setData({ headers: WORKER_COLUMNS, data: m.workerRows });
    // The log keeps its history: append only failures it has not shown yet (oldest first).
    for (const line of [...m.recentFailureLines].reverse()) {
      if (this.shownFailures.has(line)) continue;
      this.shownFailures.add(line);
      this.recentLog.log(line);
    }
    if (this.shownFailures.size > 1000) this.shownFailures = new Set(m.recentFailureLines);
    this.screen.render();
  }

  setStatus(text: string, isError: boolean): void {
    this.status.setContent(text);
    this.status.style.bg = isError ? 'red' : 'white';
    this.status.style.fg = isError ? 'white' : 'black';
    this.screen.render();
  }

  destroy(): void {
    this.screen.destroy();
  }
}
