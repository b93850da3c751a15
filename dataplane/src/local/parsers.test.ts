import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseShowProc } from './master-cli.js';
import { parseServersState } from './runtime.js';
import { checkKey, checkValue, chunkLines, mapFileText, parseShowMapEntries, parseShowMaps } from './runtime-maps.js';

// Outputs as HAProxy 2.6.12 prints them.
const SHOW_PROC_AFTER_FAILED_RELOAD = `#<PID>          <type>          <reloads>       <uptime>        <version>
2854            master          2 [failed: 1]   0d00h00m09s     2.6.12-1+deb12u4
# workers
2919            worker          1               0d00h00m01s     2.6.12-1+deb12u4
# old workers
2857            worker          2               0d00h00m09s     2.6.12-1+deb12u4
# programs
`;

const SERVERS_STATE = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 b 1 s1 127.0.0.2 2 0 10 1 8 1 0 0 8 0 0 0 - 9000 - 0 0 - - 0
3 b 2 s2 127.0.0.3 0 5 1 1 8 1 0 0 8 0 0 0 - 9001 - 0 0 - - 0
3 b 3 s3 127.0.0.4 2 4 1 1 8 1 0 0 8 0 0 0 - 9002 - 0 0 - - 0
3 b 4 s4 127.0.0.5 3 8 1 1 8 1 0 0 8 0 0 0 - 9003 - 0 0 - - 0
`;

describe('parsers: HAProxy CLI answers', () => {
  it('reads master, workers, old workers and the failed-reload counter from show proc', () => {
    const procs = parseShowProc(SHOW_PROC_AFTER_FAILED_RELOAD);
    assert.deepEqual(procs, [
      { pid: 2854, type: 'master', reloads: 2, failed: 1 },
      { pid: 2919, type: 'worker', reloads: 1 },
      { pid: 2857, type: 'old-worker', reloads: 2 },
    ]);
  });

  it('maps show servers state to runtime_server: admin and operational state, weight, address, port', () => {
    const s = parseServersState(SERVERS_STATE);
    assert.equal(s.length, 4);
    assert.deepEqual(s.map((x) => [x.name, x.address, x.port, x.admin_state, x.operational_state, x.weight]), [
      ['s1', '127.0.0.2', 9000, 'ready', 'up', 10],
      ['s2', '127.0.0.3', 9001, 'maint', 'down', 1],
      ['s3', '127.0.0.4', 9002, 'ready', 'up', 1], // CMAINT alone: declared disabled, since set ready
      ['s4', '127.0.0.5', 9003, 'drain', 'stopping', 1],
    ]);
  });

  it('returns no servers for an answer without the header', () => {
    assert.deepEqual(parseServersState("Can't find backend.\n"), []);
  });
});

// `show map` answers of HAProxy 2.6.12: the list of loaded maps, then one map's entries.
const SHOW_MAPS = `# id (file) description
0 (/w/maps/routes.map) pattern loaded from file '/w/maps/routes.map' used by map at file '/w/haproxy.cfg' line 24. curr_ver=0 next_ver=0 entry_cnt=2
3 (/etc/haproxy/other.map) pattern loaded from file '/etc/haproxy/other.map' used by map at file '/w/haproxy.cfg' line 30. curr_ver=0 next_ver=0 entry_cnt=0

`;

const SHOW_MAP_ENTRIES = `0x55620bdb01b0 api.example.test/v1/ be_api
0x7f2df8046e80 p3 value with spaces

`;

describe('parsers: HAProxy map answers', () => {
  it('reads id, file and description of every loaded map from show map', () => {
    const maps = parseShowMaps(SHOW_MAPS);
    assert.deepEqual(maps.map((m) => [m.id, m.file]), [['0', '/w/maps/routes.map'], ['3', '/etc/haproxy/other.map']]);
    assert.match(String(maps[0]?.description), /^pattern loaded from file .* entry_cnt=2$/);
    assert.deepEqual(parseShowMaps('# id (file) description\n\n'), []);
  });

  it('reads the entries of show map <file>, the value being the rest of the line', () => {
    assert.deepEqual(parseShowMapEntries(SHOW_MAP_ENTRIES), [
      { id: '0x55620bdb01b0', key: 'api.example.test/v1/', value: 'be_api' },
      { id: '0x7f2df8046e80', key: 'p3', value: 'value with spaces' },
    ]);
    assert.deepEqual(parseShowMapEntries('\n'), [], 'an empty map');
  });

  it('refuses an answer that is not a list, instead of reading an error as entries', () => {
    assert.throws(() => parseShowMapEntries('Unknown map identifier. Please use #<id> or <file>.\n\n'), /unexpected line/);
    assert.throws(() => parseShowMaps('Permission denied\n'), /unexpected line/);
  });

  it('writes entries back in map file format', () => {
    assert.equal(mapFileText([{ key: 'a/', value: 'x' }, { key: 'b', value: 'y' }]), 'a/ x\nb y\n');
    assert.equal(mapFileText([]), '');
  });

  it('splits payload lines into requests under a byte budget, keeping their order', () => {
    const lines = ['a'.repeat(5), 'b'.repeat(5), 'c'.repeat(5), 'd'.repeat(20)];
    assert.deepEqual(chunkLines(lines, 12), [[lines[0], lines[1]], [lines[2]], [lines[3]]]);
    assert.deepEqual(chunkLines([], 12), []);
  });

  it('accepts keys and values that are single safe words, and refuses what could split or inject a CLI line', () => {
    checkKey('api.example.test/v1/');
    checkKey('~.x.com/');
    checkValue('be_app');
    checkValue('%[var(txn.x)]');
    for (const k of ['', 'a b', 'a\tb', 'a\nb', 'a;b', 'a\\b', 'a#b', 'a"b', 'a<b', 'a{b', 'a$b', 'x'.repeat(4097)]) {
      assert.throws(() => checkKey(k), /map entry key/, JSON.stringify(k));
    }
    for (const v of ['', 'a b', 'a\u0001', 'a;show info', 'a\\b', 'x<<']) {
      assert.throws(() => checkValue(v), /map entry value/, JSON.stringify(v));
    }
  });
});
