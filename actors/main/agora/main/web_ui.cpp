#include "agora/main/web_ui.hpp"

namespace agora::main {

const std::string& web_ui_html() {
  static const std::string html = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Agora</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{margin:0 0 .2em}small{color:#666}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:14px}
th,td{border-bottom:1px solid #ddd;padding:.25em .8em;text-align:left}
th{background:#f4f4f4}.bad{color:#b00}.ok{color:#080}
</style></head><body>
<h1>Agora</h1><small id="meta">loading /state ...</small>
<h2>Cluster</h2><table id="cluster"></table>
<h2>Agents</h2><table id="agents"></table>
<h2>Frameworks</h2><table id="frameworks"></table>
<h2>Roles</h2><table id="roles"></table>
<h2>Active tasks</h2><table id="tasks"></table>
<h2>Recently completed tasks</h2><table id="completed"></table>
<script>
const esc=s=>String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const mib=b=>(b/1048576).toFixed(0)+' MiB';
const res=r=>r.cpus.toFixed(2)+' cpus, '+mib(r.mem);
function table(id,head,rows){document.getElementById(id).innerHTML=
 '<tr>'+head.map(h=>'<th>'+h+'</th>').join('')+'</tr>'+
 rows.map(r=>'<tr>'+r.map(c=>'<td>'+c+'</td>').join('')+'</tr>').join('');}
async function refresh(){
 try{
  const s=await (await fetch('/state')).json();
  document.getElementById('meta').textContent='master '+s.id+' on '+s.hostname+', up since '+new Date(s.start_time*1000).toLocaleString();
  table('cluster',['','resources'],[['total',res(s.cluster.total)],['used',res(s.cluster.used)],['offered',res(s.cluster.offered)]]);
  table('agents',['id','hostname','health','attributes','total','used','tasks'],s.agents.map(a=>[esc(a.id),esc(a.hostname),
   '<span class="'+(a.active?'ok':'bad')+'">'+a.health+'</span>',esc(Object.entries(a.attributes).map(e=>e.join(':')).join(', ')),
   res(a.resources),res(a.used_resources),a.task_count]));
  table('frameworks',['id','name','roles','connected','tasks','used','offered'],s.frameworks.map(f=>[esc(f.id),esc(f.name),esc(f.roles.join(', ')),
   f.connected?'yes':'<span class="bad">no</span>',f.tasks.length,res(f.used_resources),res(f.offered_resources)]));
  table('roles',['role','weight','weighted share'],s.roles.map(r=>[esc(r.name),r.weight,r.weighted_share.toFixed(3)]));
  const tasks=s.frameworks.flatMap(f=>f.tasks);
  table('tasks',['id','framework','agent','state','command'],tasks.slice(0,200).map(t=>[esc(t.id),esc(t.framework_id),esc(t.agent_id),t.state,esc(t.command)]));
  table('completed',['id','framework','state','message'],s.completed_tasks.slice(-50).reverse().map(t=>[esc(t.id),esc(t.framework_id),t.state,esc(t.message)]));
 }catch(e){document.getElementById('meta').textContent='cannot read /state: '+e;}
}
refresh();setInterval(refresh,2000);
</script></body></html>
)HTML";
  return html;
}

}  // namespace agora::main
