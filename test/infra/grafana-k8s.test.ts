/** The Grafana dashboard and the Prometheus Operator manifests refer to what exists: metrics, ports, labels. */
import fs from 'node:fs';
import path from 'node:path';
import { exportedMetrics, metricsIn } from './metrics';

const ROOT = path.resolve(__dirname, '../..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

describe('infra/grafana dashboard', () => {
  const dashboard = JSON.parse(read('infra/grafana/moneykit-migrator.json')) as { uid: string; panels: Panel[] };
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

  it('charts only metrics the service exports, and every one of them', () => {
    const exported = exportedMetrics();
    const used = new Set(exprs.flatMap(metricsIn));
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
    // everything exported is on the dashboard (the cumulative deferral gauge is the counter's Redis twin)
    expect(
      [...exported].filter(
        (name) =>
          !used.has(name) &&
          name !== 'mk_refresh_quota_deferrals' &&
          name !== 'mk_run_state' &&
          name !== 'mk_run_parked_links',
      ),
    ).toEqual([]);
  });

  it('has the panels on-call looks at first', () => {
    const titles = dashboard.panels.map((p) => p.title);
    for (const t of ['Stall reasons', '429s per minute', 'Refresh lag p50 / p99', 'Paused queues', 'Redis memory'])
      expect(titles).toContain(t);
  });
});

describe('infra/k8s monitoring', () => {
  const monitoring = read('infra/k8s/monitoring.yaml');

  it('scrapes the dashboard Service by its named port and the workers by their ops port', () => {
    expect(read('infra/k8s/dashboard.yaml')).toMatch(/kind: Service[\s\S]*name: http, port: 80/);
    expect(monitoring).toMatch(/kind: ServiceMonitor[\s\S]*- port: http\n\s+path: \/metrics/);
    for (const worker of ['worker-import', 'worker-refresh', 'worker-webhooks']) {
      const manifest = read(`infra/k8s/${worker}.yaml`);
      expect(manifest).toContain(`app.kubernetes.io/component: ${worker}`);
      expect(manifest).toContain('{ name: ops, containerPort: 9464 }');
      expect(monitoring).toContain(worker);
    }
    expect(monitoring).toMatch(/kind: PodMonitor[\s\S]*- port: ops\n\s+path: \/metrics/);
  });
});
