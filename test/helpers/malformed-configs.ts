/** Malformed configs shared by the unit and CLI tests: [text, key named, pattern of the one-line message]. */
export const MALFORMED: [string, string, RegExp][] = [
  ['{ "nixConfig": { "path": "/etc/nixos" }, }', '(syntax)', /not valid JSON/],
  ['[]', '(top level)', /top level must be a JSON object/],
  ['{}', 'nixConfig', /nixConfig: is required/],
  ['{ "nixConfig": {} }', 'nixConfig.path', /nixConfig\.path: is required/],
  ['{ "nixConfig": { "path": "etc/nixos" } }', 'nixConfig.path', /nixConfig\.path: must be an absolute path/],
  ['{ "nixConfig": { "path": "/etc/nixos", "brnach": "main" } }', 'nixConfig', /nixConfig: unknown key "brnach"/],
  ['{ "nixConfig": { "path": "/etc/nixos" }, "extra": 1 }', '(top)', /unknown key "extra"/],
  [
    '{ "nixConfig": { "path": "/etc/nixos", "operation": "swtich" } }',
    'nixConfig.operation',
    /nixConfig\.operation: invalid value "swtich"; allowed: "switch" \| "boot"/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos", "allowForcePush": "yes" } }',
    'nixConfig.allowForcePush',
    /nixConfig\.allowForcePush: expected boolean, got "yes"/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "schedule": { "cron": "0 25 * * *" } }',
    'schedule.cron',
    /schedule\.cron: must be a valid cron expression/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "schedule": { "randomizedDelaySec": -5 } }',
    'schedule.randomizedDelaySec',
    /schedule\.randomizedDelaySec:/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "validation": { "onFirstFailure": "panic" } }',
    'validation.onFirstFailure',
    /validation\.onFirstFailure: invalid value "panic"; allowed: "reboot" \| "wait"/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "validation": { "maxBootFailures": 0 } }',
    'validation.maxBootFailures',
    /validation\.maxBootFailures:/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "validation": { "services": "sshd.service" } }',
    'validation.services',
    /validation\.services: expected array, got "sshd.service"/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "validation": { "services": ["sshd", "my app"] } }',
    'validation.services[1]',
    /validation\.services\[1\]: "my app" is not a systemd unit name \(allowed: .*\); write it as systemctl takes it, e\.g\. "sshd" or "sshd\.service"$/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "validation": { "services": ["nginx/main.service"] } }',
    'validation.services[0]',
    /validation\.services\[0\]: "nginx\/main\.service" is not a systemd unit name/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "validation": { "services": [""] } }',
    'validation.services[0]',
    /validation\.services\[0\]: is empty; write it as systemctl takes it/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "validation": { "checks": [{ "tcp": "localhost" }] } }',
    'validation.checks[0]',
    /validation\.checks\[0\]/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "validation": { "checks": [{ "ping": "x" }] } }',
    'validation.checks[0]',
    /validation\.checks\[0\]: check of unknown kind "ping"; use one of \{"tcp": "HOST:PORT"\}/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "reboot": { "window": { "lower": "1am", "upper": "05:00" } } }',
    'reboot.window.lower',
    /reboot\.window\.lower: must be a time of day as HH:MM/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "hooks": { "onSuccess": "curl x" } }',
    'hooks.onSuccess',
    /hooks\.onSuccess: expected array, got "curl x"/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "hooks": { "onFailure": [] } }',
    'hooks.onFailure',
    /hooks\.onFailure: must be a non-empty argv array/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "log": { "format": "xml" } }',
    'log.format',
    /log\.format: invalid value "xml"; allowed: "auto" \| "json" \| "text"/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "paths": { "gcRootsDir": "gcroots" } }',
    'paths.gcRootsDir',
    /paths\.gcRootsDir: must be an absolute path/,
  ],
  ['{ "nixConfig": { "path": "/etc/nixos" }, "stateDir": 42 }', 'stateDir', /stateDir: expected string, got 42/],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "dotfiles": { "enable": true } }',
    'dotfiles.user',
    /dotfiles\.user: is required when dotfiles\.enable is true/,
  ],
  ['{ "nixConfig": { "path": "/etc/nixos" }, "hostname": "bad host" }', 'hostname', /hostname: must be a host name/],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "preflight": { "minFreeDiskPercent": 150 } }',
    'preflight.minFreeDiskPercent',
    /preflight\.minFreeDiskPercent:/,
  ],
  // Deeper and stranger ones (the reliability catalogue, test/reliability/bad-input.test.ts).
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "hooks": { "onSuccess": [1, "notify"] } }',
    'hooks.onSuccess[0]',
    /hooks\.onSuccess\[0\]: expected string, got 1/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "hooks": { "onFailure": ["notify", ""] } }',
    'hooks.onFailure[1]',
    /hooks\.onFailure\[1\]:/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "validation": { "checks": [{ "command": [] }] } }',
    'validation.checks[0].command',
    /validation\.checks\[0\]\.command: must be a non-empty argv array/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "validation": { "checks": [{ "command": ["true"], "timeout": 5 }] } }',
    'validation.checks[0]',
    /validation\.checks\[0\]: unknown key "timeout"/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "validation": { "checks": [{ "tcp": "127.0.0.1:99999" }] } }',
    'validation.checks[0].tcp',
    /validation\.checks\[0\]\.tcp: the port must be at most 65535/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "reboot": { "window": { "lower": "01:00", "uppr": "05:00" } } }',
    'reboot.window',
    /reboot\.window: unknown key "uppr"/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "timeouts": { "gitSec": 1.5 } }',
    'timeouts.gitSec',
    /timeouts\.gitSec: expected int, got 1\.5/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "schedule": { "randomizedDelaySec": 1e400 } }',
    'schedule.randomizedDelaySec',
    /schedule\.randomizedDelaySec: expected number, got Infinity/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "preflight": { "diskPaths": ["nix"] } }',
    'preflight.diskPaths[0]',
    /preflight\.diskPaths\[0\]: must be an absolute path/,
  ],
  [
    '{ "nixConfig": { "path": "/etc/ni\\u0000xos" } }',
    'nixConfig.path',
    /nixConfig\.path: must not contain a NUL byte/,
  ],
  ['\ufeff{ "nixConfig": { "path": "/etc/nixos" } }', '(byte-order mark)', /not valid JSON/],
  ['', '(empty file)', /not valid JSON \(Unexpected end of JSON input\)/],
  [
    '{ "nixConfig": { "path": "/etc/nixos" }, "validation": { "timeoutSec": "30" } }',
    'validation.timeoutSec',
    /validation\.timeoutSec: expected number, got "30"/,
  ],
];
