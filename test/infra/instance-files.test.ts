/**
 * The fleet's per-instance files come from the job kinds' plugins (KindPlugin.instanceFiles), not
 * from infra/cdk: the CDK app (a composition root) passes the built-in kinds' declaration into the
 * stack, the user data passes whatever option a kind declares, and infra/cdk names no kind's
 * concepts. Checked on the rendered user data and the app, without synthesizing a stack.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp, fleetKindsOf } from '../../infra/cdk/app.js';
import { renderUserData } from '../../infra/cdk/user-data.js';
import { InputError } from '../../shared/errors.js';
import { pluginOf, type KindPlugin } from '../../worker/job-kind.js';
import { builtInKinds } from '../../worker/jobs/builtin.js';

const base = {
  region: 'eu-west-1',
  artifactUri: 's3://a/convoy.tgz',
  configJson: '{}',
  metaTable: 'convoy-meta',
  fleet: 'convoy',
  instanceSlots: '4',
  workerConcurrency: 8,
  shutdownDeadlineSec: 10,
};
const launcher = (userData: string) => /<<'CONVOY_START'\n([\s\S]*?)\nCONVOY_START\n/.exec(userData)![1]!;
const tenantsKind = (name: string): KindPlugin =>
  pluginOf({ kind: name } as never, { instanceFiles: { workerOption: '--tenants-file', describe: 'tenants' } });

describe('per-instance files, declared by a job kind', () => {
  it("the built-in kinds: the uploads kind takes each instance's customers with --customers-file", () => {
    expect(fleetKindsOf(builtInKinds)).toEqual({
      instanceFiles: { workerOption: '--customers-file', describe: 'customers' },
    });
    const start = launcher(
      renderUserData({ ...base, instanceFilesSource: 's3://cfg/x', ...fleetKindsOf(builtInKinds) }),
    );
    expect(start).toContain('aws s3 cp --region "$REGION" "s3://cfg/x/instance-$SLOT.json" /etc/convoy/customers.json');
    expect(start).toContain('ARGS+=(--customers-file /etc/convoy/customers.json)');
    expect(start).toContain('no customers file for slot $SLOT; working the shared queue only');
  });

  it("another kind's declaration gives its own option and file, and nothing of the uploads kind", () => {
    const userData = renderUserData({
      ...base,
      instanceFilesSource: 'ssm:/fleet/tenants',
      ...fleetKindsOf([tenantsKind('tenants')]),
    });
    const start = launcher(userData);
    expect(start).toContain(
      '--name "/fleet/tenants/instance-$SLOT" --query Parameter.Value --output text > /etc/convoy/tenants.json',
    );
    expect(start).toContain('ARGS+=(--tenants-file /etc/convoy/tenants.json)');
    expect(userData).not.toMatch(/customer/i);
    // no source: a claimed slot still labels the instance, and the worker gets no file option
    const none = launcher(renderUserData(base));
    expect(none).not.toMatch(/-file /);
    expect(none).not.toContain('/etc/convoy/tenants.json');
    expect(none).toContain('no instance files configured; working the shared queue only');
  });

  it('a declaration that is not a plain option and word is refused before it reaches the shell', () => {
    expect(() =>
      renderUserData({
        ...base,
        instanceFilesSource: 's3://cfg/x',
        instanceFiles: { workerOption: '--x; rm -rf /', describe: 'x' },
      }),
    ).toThrow(/workerOption must be/);
  });

  it('a source without a kind that takes files is bad input; two kinds that take files are refused', () => {
    let err: unknown;
    try {
      buildApp(
        { instanceFilesSource: 's3://cfg/x' },
        undefined,
        builtInKinds.filter((p) => !p.instanceFiles),
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(
      /^instanceFilesSource is set \(s3:\/\/cfg\/x\), but none of the job kinds \(s3-sync, dynamodb-copy, pg-to-dynamodb, pg-to-s3\) takes a file per instance/,
    );
    expect(() => fleetKindsOf([...builtInKinds, tenantsKind('tenants')])).toThrow(
      'job kinds uploads, tenants each take a file per instance; a fleet has one instanceFilesSource',
    );
  });

  it("infra/cdk does not name the uploads kind's customers (the kind declares its file)", () => {
    const dir = path.resolve(import.meta.dirname, '../../infra/cdk');
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('user-data.ts');
    for (const f of files) expect(readFileSync(path.join(dir, f), 'utf8'), f).not.toMatch(/customer/i);
  });
});
