// The artifact relay: the first host staged in a data center serves the tarball to the others
// over the data center's network, so the artifact crosses the WAN once per data center. It runs
// in the foreground of an SSH channel: it prints its port, and exits when the channel closes
// (or the controller dies), so nothing is left running on the host.
import type { Layout } from './layout.js';
import { all, type Script } from './shell.js';

const server = [
  "const http=require('http'),fs=require('fs');const[file,name,host]=process.argv.slice(1);",
  "const s=http.createServer((q,r)=>{if(q.url!=='/'+name){r.writeHead(404);return r.end();}",
  "r.writeHead(200,{'content-length':fs.statSync(file).size});fs.createReadStream(file).pipe(r);});",
  "s.listen(0,host,()=>process.stdout.write(s.address().port+'\\n'));",
  "process.stdin.on('end',()=>process.exit(0)).resume();",
].join('');

/** `node`: the program that runs the server (the host's, or the release's bundled one). */
export function serveArtifact(layout: Layout, sha256: string, bindAddress: string, node = 'node'): Script {
  return all([node, '-e', server, layout.incoming(sha256), sha256, bindAddress]);
}

export function dropRelayCopy(layout: Layout, sha256: string): Script {
  return all(['rm', '-f', layout.incoming(sha256)]);
}
