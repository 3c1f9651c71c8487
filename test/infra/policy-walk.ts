/**
 * Helpers for the least-privilege tests: collect every IAM statement of a synthesized template
 * (managed policies, inline policies on roles, AWS::IAM::Policy resources) and render
 * CloudFormation intrinsics in a resource as readable strings, so a test can compare them with
 * the ARNs it expects ("{ItemsTable5AAC2C46.Arn}/index/byStatus", "arn:{AWS::Partition}:s3:::b/*").
 */

export interface Statement {
  Effect: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Principal?: unknown;
  Sid?: string;
}

export interface FoundStatement {
  /** logical id of the resource holding it */
  holder: string;
  statement: Statement;
}

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, any> }> };

export function allPolicyStatements(template: Template): FoundStatement[] {
  const out: FoundStatement[] = [];
  const add = (holder: string, doc: { Statement?: Statement[] } | undefined) => {
    for (const statement of doc?.Statement ?? []) out.push({ holder, statement });
  };
  for (const [id, r] of Object.entries(template.Resources)) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') add(id, p.PolicyDocument);
    if (r.Type === 'AWS::IAM::Role' || r.Type === 'AWS::IAM::User' || r.Type === 'AWS::IAM::Group') {
      for (const inline of p.Policies ?? []) add(id, inline.PolicyDocument);
    }
  }
  return out;
}

/** Render an intrinsic-bearing value as a string: Ref -> {Name}, GetAtt -> {Id.Attr}, Join/Select/Split kept readable. */
export function renderIntrinsic(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const o = v as Record<string, any>;
    if ('Ref' in o) return `{${o.Ref}}`;
    if ('Fn::GetAtt' in o) return `{${(o['Fn::GetAtt'] as string[]).join('.')}}`;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(renderIntrinsic).join(sep);
    }
    if ('Fn::Select' in o) {
      const [i, list] = o['Fn::Select'] as [number, unknown];
      return `select(${i},${renderIntrinsic(list)})`;
    }
    if ('Fn::Split' in o) {
      const [sep, s] = o['Fn::Split'] as [string, unknown];
      return `split(${sep},${renderIntrinsic(s)})`;
    }
  }
  return JSON.stringify(v);
}

export function asList<T>(v: T | T[] | undefined): T[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}
