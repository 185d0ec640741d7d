// Everything `pier init` writes, as data: path (relative to --dir), content and mode. Pure, so
// the whole set is rendered, and every value checked, before anything touches the disk.
import { apacheSite, cgiScript, htaccess } from './apache-site.js';
import type { InitOptions } from './init-options.js';
import { installScript } from './install-script.js';
import { nginxSite } from './nginx-site.js';
import { devIni, prodIni } from './pier-ini.js';
import { serviceUnit, socketUnit } from './systemd-units.js';

export interface DeployFile {
  path: string;
  content: string;
  mode: number;
}

export function deployFiles(o: InitOptions): DeployFile[] {
  return [
    { path: `nginx/${o.name}.conf`, content: nginxSite(o), mode: 0o644 },
    { path: `apache/${o.name}.conf`, content: apacheSite(o), mode: 0o644 },
    { path: 'apache/www/.htaccess', content: htaccess(), mode: 0o644 },
    { path: 'apache/www/app.js', content: cgiScript(o), mode: 0o755 },
    { path: 'pier/dev.ini', content: devIni(o), mode: 0o644 },
    { path: 'pier/prod.ini', content: prodIni(o), mode: 0o644 },
    { path: `systemd/${o.name}.service`, content: serviceUnit(o), mode: 0o644 },
    { path: `systemd/${o.name}.socket`, content: socketUnit(o), mode: 0o644 },
    { path: 'scripts/install.sh', content: installScript(o), mode: 0o755 },
  ];
}
