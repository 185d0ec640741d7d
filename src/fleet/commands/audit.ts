// One audit line per deploy on each host, appended to <deploy_to>/revisions.log:
//   2024-01-05T07:08:09Z deploy=ID action=deploy version=v2 previous=v1 result=healthy by=alice@laptop
import type { Layout } from './layout.js';
import { appendTo, type Script } from './shell.js';

export interface AuditEntry {
  at: Date;
  deploy: string;
  action: 'deploy' | 'rollback';
  version: string;
  previous: string | undefined;
  result: string;
  by: string;
}

export function auditLine(entry: AuditEntry): string {
  const field = (value: string | undefined): string =>
    (value ?? '-').replace(/[^A-Za-z0-9._+@:-]/g, '_') || '-';
  return [
    entry.at.toISOString().replace(/\.\d+Z$/, 'Z'),
    `deploy=${field(entry.deploy)}`,
    `action=${entry.action}`,
    `version=${field(entry.version)}`,
    `previous=${field(entry.previous)}`,
    `result=${field(entry.result)}`,
    `by=${field(entry.by)}`,
  ].join(' ');
}

export function appendAudit(layout: Layout, entry: AuditEntry): Script {
  return appendTo(['printf', '%s\\n', auditLine(entry)], layout.revisions);
}
