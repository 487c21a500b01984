# services.gitopsd: pull-based GitOps for this host (docs/nixos.md).
#
# - settings (RFC 42): any key of the config file (README "Config
#   reference"), written to /etc/gitopsd/config.json. The common keys have
#   typed options below; the rest pass through as JSON.
# - The generated file is checked at build time with `gitopsd config check`,
#   so a bad setting fails `nixos-rebuild build`, not the 4 a.m. run.
# - mode = "timer" (default): gitopsd.timer starts gitopsd-upgrade.service,
#   which pulls in gitopsd-sync.service (as the dotfiles user) and runs after
#   it. mode = "daemon": one long-running `gitopsd daemon` (the cycle on
#   schedule.cron, in-process) instead of the timer.
# - gitopsd-boot-validate.service runs on every boot, before
#   boot-complete.target, which requires it: a failed validation means the
#   target is never reached (systemd-bless-boot then never blesses the entry).
#
# The units that activate systems (upgrade, daemon, boot validation) carry no
# namespace hardening: switch-to-configuration, nix-env and the activation
# script run inside the unit and would inherit it (docs/nixos.md
# "Hardening").
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib)
    literalExpression
    mkEnableOption
    mkIf
    mkMerge
    mkOption
    optional
    optionals
    types
    ;

  cfg = config.services.gitopsd;
  s = cfg.settings;
  format = pkgs.formats.json { };

  gitopsd = "${cfg.package}/bin/gitopsd";
  # gitopsd.service (mode = "daemon") runs node itself, with the node flags
  # of the package's package.json "gitopsd"."daemonNodeFlags" (`--no-turbofan`:
  # the daemon holds the scheduler and runs the polls, and without V8's top
  # tier it keeps about 5 MiB less of node's binary resident; src/cycle/daemon-node.ts,
  # docs/nixos.md "gitopsd.service"), on the script the package's own bin
  # wrapper runs: nixpkgs' npmInstallHook wraps each "bin" as `makeWrapper
  # node $out/bin/<name> --add-flags $out/lib/node_modules/<package>/<bin>`
  # (pkgs/build-support/node/build-npm-package/hooks/npm-install-hook.sh).
  # Both come from the package (nix/package.nix passthru: nodejs,
  # daemonNodeFlags), so a package is run with the flags of its own version;
  # a package lacking either runs as `gitopsd daemon`, through its wrapper.
  # Each flag must be a plain long option: ExecStart is parsed by systemd,
  # which would expand a `%` or a `$`.
  daemonFlag =
    f:
    if builtins.isString f && builtins.match "--[a-z0-9][a-z0-9-]*(=[A-Za-z0-9._-]+)?" f != null then
      f
    else
      throw "services.gitopsd.package.daemonNodeFlags has ${builtins.toJSON f}, which is not a plain long option such as \"--no-turbofan\"";
  daemonExec =
    if cfg.package ? nodejs && cfg.package ? daemonNodeFlags then
      lib.concatStringsSep " " (
        [ "${cfg.package.nodejs}/bin/node" ]
        ++ map daemonFlag cfg.package.daemonNodeFlags
        ++ [ "${cfg.package}/lib/node_modules/gitopsd/bin/gitopsd" ]
      )
    else
      gitopsd;
  configPath = "/etc/gitopsd/config.json";

  dotfilesUser = s.dotfiles.user;
  # (enable without a user is an assertion failure below.)
  syncEnabled = s.dotfiles.enable && dotfilesUser != null;
  dotfilesGroup =
    if dotfilesUser != null && config.users.users ? ${dotfilesUser} then
      config.users.users.${dotfilesUser}.group
    else
      "users";

  # settings.validation.services as systemctl reads them (the CLI does the
  # same: src/core/config-schema.ts normaliseUnitName): a name without a
  # unit type suffix means "<name>.service" (systemctl(1) "Parameter
  # Syntax"). Only valid names go into `after` (typed by nixpkgs'
  # unitNameType); an invalid one is an assertion naming its index, so the
  # error points at the setting, not into systemd.services.
  unitTypes = [
    "service"
    "socket"
    "device"
    "mount"
    "automount"
    "swap"
    "target"
    "path"
    "timer"
    "slice"
    "scope"
  ];
  normaliseUnitName =
    name:
    if lib.any (t: lib.hasSuffix ".${t}" name && lib.stringLength name > lib.stringLength t + 1) unitTypes then
      name
    else
      "${name}.service";
  validationUnits = lib.imap0 (
    index: written:
    let
      name = normaliseUnitName written;
    in
    {
      inherit index written name;
      # systemd.unit(5): letters, digits, ":", "-", "_", ".", "\", and "@";
      # at most 255 characters with the suffix.
      valid =
        written != "" && builtins.match "[A-Za-z0-9:_.@\\-]+" name != null && lib.stringLength name <= 255;
    }
  ) s.validation.services;
  validationAfter = map (u: u.name) (lib.filter (u: u.valid) validationUnits);

  # systemd's StateDirectory= is relative to /var/lib.
  stateDirName = lib.removePrefix "/var/lib/" s.stateDir;
  stateDirOk = lib.hasPrefix "/var/lib/" s.stateDir && stateDirName != "";

  converted = import ./cron.nix s.schedule.cron;
  onCalendar = if cfg.onCalendar != null then cfg.onCalendar else converted.calendar or null;

  # The host's own ed25519 key, as nixpkgs' sshd module generates it
  # (nixos/modules/services/networking/ssh/sshd.nix: services.openssh.hostKeys,
  # default [ rsa /etc/ssh/ssh_host_rsa_key, ed25519 /etc/ssh/ssh_host_ed25519_key ]).
  # `or`: an evaluation without the sshd module (the module tests) has no key.
  sshHostKey =
    let
      ed25519 = lib.filter (k: (k.type or null) == "ed25519") (config.services.openssh.hostKeys or [ ]);
    in
    if (config.services.openssh.enable or false) && ed25519 != [ ] then (lib.head ed25519).path else null;

  # services.gitopsd.fleet.allowedSigners as ssh-keygen(1) "ALLOWED SIGNERS"
  # lines: principal (the hostname), the git namespace, the public key.
  allowedSignersFile = pkgs.writeText "gitopsd-fleet-allowed-signers" (
    lib.concatStrings (
      lib.mapAttrsToList (host: key: "${host} namespaces=\"git\" ${key}\n") cfg.fleet.allowedSigners
    )
  );

  configFile = format.generate "gitopsd-config.json" s;
  # The file /etc points at is the output of the check: building the system
  # builds (and so runs) the check.
  checkedConfig =
    pkgs.runCommand "gitopsd-config-checked.json"
      {
        nativeBuildInputs = [ cfg.package ];
        preferLocalBuild = true;
      }
      ''
        gitopsd config check --config ${configFile} --log-level error > /dev/null
        cp ${configFile} $out
      '';

  syncPath = [
    pkgs.git
    pkgs.jujutsu
    pkgs.chezmoi
    pkgs.openssh
    pkgs.getent
    pkgs.coreutils
  ]
  ++ cfg.extraPackages;
  rootPath = [
    pkgs.git
    pkgs.nh
    config.nix.package
    config.systemd.package
    pkgs.openssh
    pkgs.getent
    pkgs.coreutils
    # prlimit: the memory limit of nix-store reading a failed build's log (docs/upgrade.md).
    pkgs.util-linux
  ]
  ++ cfg.extraPackages;
  daemonPath = rootPath ++ [
    pkgs.jujutsu
    pkgs.chezmoi
  ];

  rootEnvironment =
    config.nix.envVars
    // {
      HOME = "/root";
      GITOPSD_CONFIG = configPath;
    }
    // config.networking.proxy.envVars;

  # The units that run as root build and activate systems: nix, as root,
  # builds in the unit's own process tree (the local store, no daemon in
  # between), and switch-to-configuration runs the activation script in it.
  # Whatever the unit restricts, every build and every activation inherits.
  # So nothing that can fail a build or an activation (docs/nixos.md
  # "Hardening"), as nixpkgs' system.autoUpgrade (nixos-upgrade.service):
  # - no LockPersonality: a build for i686-linux or armv7l-linux calls
  #   personality(PER_LINUX32), which LockPersonality=yes refuses;
  # - no RestrictRealtime: a build or test that asks for realtime
  #   scheduling (audio, timing tests) fails with EPERM;
  # - no namespace or syscall filters (ProtectSystem, PrivateTmp,
  #   NoNewPrivileges, SystemCallArchitectures=native, ...): the activation
  #   writes /etc, /boot and the profiles, and runs setuid wrappers' setup.
  # UMask=0022 is systemd's default for system services (systemd.exec(5)),
  # written out: the state files are meant to be readable by status readers.
  rootHardening = {
    UMask = "0022";
  };

  # The sync runs jj, git, ssh and chezmoi as the dotfiles user: it writes
  # that user's home and its own state directory, nothing else.
  syncHardening = {
    NoNewPrivileges = true;
    ProtectSystem = "full";
    PrivateTmp = true;
    PrivateDevices = true;
    ProtectKernelTunables = true;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectControlGroups = true;
    ProtectClock = true;
    ProtectHostname = true;
    RestrictSUIDSGID = true;
    RestrictNamespaces = true;
    LockPersonality = true;
    RestrictRealtime = true;
    SystemCallArchitectures = "native";
    CapabilityBoundingSet = "";
    UMask = "0077";
  };

  stateDirectory = {
    StateDirectory = stateDirName;
    StateDirectoryMode = "0755";
  };

  # The unit ordering of timer mode: sync (if any), then upgrade.
  syncUnit = optional syncEnabled "gitopsd-sync.service";

  # Typed keys inside the freeform settings: each is a submodule that still
  # accepts any other key of that section.
  section =
    options:
    mkOption {
      type = types.submodule {
        freeformType = format.type;
        inherit options;
      };
      default = { };
    };
  # gitopsd-upgrade.service: the timer's unit, and in daemon mode the unit
  # `gitopsd trigger` starts (one upgrade now; it shares the per-host lock
  # with the daemon's cycle, so the two never overlap).
  # The sync unit exists in timer mode only (the daemon syncs itself).
  upgradeSyncUnit = lib.optionals (cfg.mode == "timer") syncUnit;
  upgradeService = {
    description = "gitopsd: pull nix-config, build, activate";
    # Never restarted by the activation it performs (as autoUpgrade).
    restartIfChanged = false;
    unitConfig.X-StopOnRemoval = false;
    # time-sync.target: a run's times (publishedAt, healthySince, the soak
    # of a rollout wave) must come from a set clock. systemd.special(7):
    # "Services where correct time is essential should be ordered after this
    # unit, but not pull it in." It waits for NTP only where the admin enables
    # systemd-time-wait-sync.service (docs/nixos.md "Clock").
    after = [
      "network-online.target"
      "time-sync.target"
      "gitopsd-boot-validate.service"
    ]
    ++ upgradeSyncUnit;
    wants = [ "network-online.target" ] ++ upgradeSyncUnit;
    path = rootPath;
    environment = rootEnvironment;
    serviceConfig = rootHardening // stateDirectory // {
      Type = "oneshot";
      ExecStart = "${gitopsd} upgrade --config ${configPath}";
      # SIGTERM to gitopsd only, never straight to a running
      # switch-to-configuration.
      KillMode = "mixed";
      TimeoutStopSec = cfg.stopTimeoutSec;
    };
  };

  # The polkit rule of `gitopsd trigger` (docs/rollout.md "Triggers"): members
  # of trigger.group may start gitopsd-upgrade.service, and do nothing else
  # with any unit. The "unit" and "verb" details of
  # org.freedesktop.systemd1.manage-units come from systemd (since v226,
  # commit 88ced61 "core: pass details to polkit for some unit actions").
  triggerRule = ''
    polkit.addRule(function(action, subject) {
      if (action.id == "org.freedesktop.systemd1.manage-units" &&
          action.lookup("unit") == "gitopsd-upgrade.service" &&
          action.lookup("verb") == "start" &&
          subject.isInGroup("${toString cfg.trigger.group}")) {
        return polkit.Result.YES;
      }
    });
  '';
in
{
  options.services.gitopsd = {
    enable = mkEnableOption "gitopsd, pull-based GitOps for this host";

    package = mkOption {
      type = types.package;
      description = "The gitopsd package. The flake's nixosModules.default sets it to the flake's own package.";
      defaultText = literalExpression "gitopsd.packages.\${system}.default";
    };

    mode = mkOption {
      type = types.enum [
        "timer"
        "daemon"
      ];
      default = "timer";
      description = ''
        "timer": gitopsd.timer starts gitopsd-upgrade.service (after
        gitopsd-sync.service when dotfiles are enabled) on the schedule.
        "daemon": one long-running `gitopsd daemon` runs the cycle on
        settings.schedule.cron itself, with the same random delay and
        catch-up.
      '';
    };

    onCalendar = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "Mon..Fri *-*-* 04:00:00";
      description = ''
        OnCalendar= of gitopsd.timer. Null (the default) converts
        settings.schedule.cron (nix/cron.nix; docs/nixos.md lists the cron
        forms it converts). Set it when the conversion refuses your cron
        expression; the daemon mode always follows settings.schedule.cron.
      '';
    };

    fixedRandomDelay = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Timer mode: make the random delay fixed per host (systemd
        FixedRandomDelay=), so a fleet is staggered the same way every day.
      '';
    };

    trigger.group = mkOption {
      type = types.nullOr types.str;
      default = "gitopsd";
      description = ''
        Members of this group may run `gitopsd trigger`, which starts
        gitopsd-upgrade.service now (`systemctl start --no-block`), through a
        polkit rule that allows exactly that verb on exactly that unit. The
        group is created. null: no rule, no group (only root can trigger).
        A trigger runs the same upgrade as the schedule: it never bypasses
        signatures, known-bad marks or the rollout gate.
      '';
    };

    stopTimeoutSec = mkOption {
      type = types.ints.positive;
      default = 600;
      description = ''
        How long systemd waits for a stop (shutdown, `systemctl stop`).
        Only the gitopsd main process gets SIGTERM (KillMode=mixed); it stops
        at the next step boundary and never interrupts an activation. A
        build still running when this expires is killed, which is safe.
      '';
    };

    syncTimeoutSec = mkOption {
      type = types.ints.positive;
      default = 3600;
      description = ''
        Timer mode: TimeoutStartSec= of gitopsd-sync.service. The upgrade
        runs after the sync; systemd gives a oneshot unit no start timeout
        by default, so a sync that never ends (its process stopped: the
        dotfiles user may send it SIGSTOP) would hold every later upgrade
        back. After this long the sync is stopped and counts as failed, and
        the upgrade runs. A sync normally takes seconds.
      '';
    };

    bootValidation.enable = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Run gitopsd-boot-validate.service on every boot, before
        boot-complete.target, which requires it.
      '';
    };

    extraPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
      example = literalExpression "[ pkgs.curl ]";
      description = "Extra programs on the units' PATH, e.g. for validation.checks commands or hooks.";
    };

    fleet.allowedSigners = mkOption {
      type = types.attrsOf (types.strMatching "(ssh-|ecdsa-|sk-)[A-Za-z0-9@.-]+ [A-Za-z0-9+/]+=*( .*)?");
      default = { };
      example = literalExpression ''
        {
          alpha = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... root@alpha";
          beta = builtins.readFile ./hosts/beta/ssh_host_ed25519_key.pub;
        }
      '';
      description = ''
        The fleet's hosts and the public SSH host key each signs its status
        with (docs/fleet.md "Signing setup on NixOS"). Written to
        /etc/gitopsd/fleet-allowed-signers, which settings.fleet.allowedSignersFile
        then defaults to: a status that is unsigned, or signed by a key
        other than its own host's, is shown unverified and is never healthy.
        Its names are also settings.fleet.expectedHosts by default: a host
        listed here with no status at the remote is shown missing, and
        `gitopsd fleet status` exits 1. Keep the same set on every host, in
        the config repository.
      '';
    };

    settings = mkOption {
      description = ''
        The gitopsd config file (README "Config reference"), as Nix. Any key
        is accepted and written to /etc/gitopsd/config.json; the typed ones
        below are the common ones.
      '';
      default = { };
      example = literalExpression ''
        {
          nixConfig.url = "git@github.com:me/nix-config.git";
          dotfiles.user = "alice";
          validation.services = [ "sshd.service" "nginx.service" ];
        }
      '';
      type = types.submodule {
        freeformType = format.type;
        options = {
          stateDir = mkOption {
            type = types.str;
            default = "/var/lib/gitopsd";
            description = "Where gitopsd keeps its state and locks; must be under /var/lib (StateDirectory=).";
          };
          nixConfig = section {
            path = mkOption {
              type = types.str;
              default = "/etc/nixos";
              description = "The nix-config flake checkout that gitopsd pulls and builds.";
            };
            branch = mkOption {
              type = types.str;
              default = "main";
              description = "The branch deployed.";
            };
          };
          dotfiles = section {
            user = mkOption {
              type = types.nullOr types.str;
              default = null;
              description = "The user whose chezmoi dotfiles are synced; gitopsd-sync.service runs as this user.";
            };
            enable = mkOption {
              type = types.bool;
              default = s.dotfiles.user != null;
              defaultText = literalExpression "settings.dotfiles.user != null";
              description = "Sync the dotfiles of settings.dotfiles.user.";
            };
            destDir = mkOption {
              type = types.nullOr types.str;
              # The user's home as NixOS declares it: gitopsd's own default,
              # /home/<user>, is wrong for a home elsewhere (users.users.<user>.home).
              # /var/empty is NixOS' default for a user without a home.
              default =
                if
                  dotfilesUser != null
                  && config.users.users ? ${dotfilesUser}
                  && config.users.users.${dotfilesUser}.home != "/var/empty"
                then
                  config.users.users.${dotfilesUser}.home
                else
                  null;
              defaultText = literalExpression ''
                users.users.''${settings.dotfiles.user}.home when that user is declared with a home, else null (gitopsd then uses /home/<user>)'';
              description = "The dotfiles user's home, where chezmoi applies the dotfiles.";
            };
          };
          validation = section {
            services = mkOption {
              type = types.listOf types.str;
              default = [ ];
              example = [
                "sshd.service"
                "nginx.service"
              ];
              description = ''
                Units that must be active for a boot (and a live switch) to
                count as good. A name without a unit type suffix means
                "<name>.service", as for systemctl ("sshd" is
                "sshd.service"); a name that is not a unit name even then is
                an assertion naming its index.
              '';
            };
            timeoutSec = mkOption {
              type = types.ints.positive;
              default = 180;
              description = "How long validation waits for the units and checks.";
            };
          };
          fleet = section {
            enable = mkOption {
              type = types.bool;
              default = false;
              description = ''
                Publish this host's status to refs/gitopsd/status/<hostname>
                of fleet.statusRemote (docs/fleet.md): after every run, and
                hourly from gitopsd-fleet-publish.timer, which publishes only
                when the status changed or the heartbeat is due. Needs write
                access to that remote.
              '';
            };
            signingKey = mkOption {
              type = types.nullOr types.str;
              default = sshHostKey;
              defaultText = literalExpression ''
                the path of the first ed25519 key in services.openssh.hostKeys
                when services.openssh.enable, else null'';
              description = ''
                The private SSH key that signs each status commit (git
                gpg.format=ssh). By default the host's own ed25519 host key,
                as nixpkgs' sshd module generates it
                (nixos/modules/services/networking/ssh/sshd.nix, hostKeys).
                Null: statuses are published unsigned.
              '';
            };
          };
          daemon = section {
            pollIntervalSec = mkOption {
              type = types.ints.unsigned;
              default = 0;
              example = 60;
              description = ''
                mode = "daemon": seconds between two polls of the nix-config
                remote (one `git fetch` each; a new tip of the branch is
                upgraded at once, so pushing is deploying, as comin's 60 s).
                0: no polling, only the cycle on settings.schedule.cron.
                Otherwise at least 10 (checked by `gitopsd config check`).
              '';
            };
            triggerSignersFile = mkOption {
              type = types.nullOr types.str;
              default = null;
              example = "/etc/gitopsd/trigger-signers";
              description = ''
                ssh-keygen allowed-signers file of the people who may issue a
                fleet-wide trigger (`gitopsd trigger --fleet`, pushed to
                refs/gitopsd/trigger of the nix-config remote; polling hosts
                then upgrade at their next poll, docs/rollout.md). Null:
                settings.nixConfig.allowedSignersFile; both null: every fleet
                trigger is ignored.
              '';
            };
          };
          schedule = section {
            cron = mkOption {
              type = types.str;
              default = "0 4 * * *";
              description = "When the cycle runs (cron, local time); also gitopsd.timer's OnCalendar unless onCalendar is set.";
            };
            randomizedDelaySec = mkOption {
              type = types.ints.unsigned;
              default = 1800;
              description = "A random delay of up to this many seconds is added to each run.";
            };
            persistent = mkOption {
              type = types.bool;
              default = true;
              description = "Catch up once after a missed run (the host was off).";
            };
          };
        };
      };
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      assertions = [
        {
          assertion = stateDirOk;
          message = "services.gitopsd.settings.stateDir must be a directory under /var/lib (it is a systemd StateDirectory=); got ${s.stateDir}";
        }
        {
          assertion = !s.dotfiles.enable || dotfilesUser != null;
          message = "services.gitopsd.settings.dotfiles.enable needs settings.dotfiles.user";
        }
      ]
      ++ map (u: {
        assertion = u.valid;
        message = "services.gitopsd.settings.validation.services[${toString u.index}] = ${builtins.toJSON u.written} is not a systemd unit name (allowed: letters, digits, \":\", \"-\", \"_\", \".\", \"\\\", \"@\"; at most 255 characters); write it as systemctl takes it, e.g. \"sshd\" or \"sshd.service\"";
      }) validationUnits
      ++ [
        {
          assertion = cfg.mode != "timer" || onCalendar != null;
          message = "services.gitopsd: settings.schedule.cron \"${s.schedule.cron}\" cannot be converted to a systemd calendar (${converted.error or ""}); set services.gitopsd.onCalendar";
        }
        {
          # Reboot turns are read from the published statuses (docs/rollout.md "Reboots take turns").
          assertion = ((s.reboot or { }).maxConcurrent or null) == null || s.fleet.enable;
          message = "services.gitopsd.settings.reboot.maxConcurrent needs settings.fleet.enable: the reboot turns are taken from the fleet's published statuses (docs/rollout.md \"Reboots take turns\")";
        }
      ];
      warnings =
        optional (
          cfg.mode == "daemon" && cfg.fixedRandomDelay
        ) "services.gitopsd.fixedRandomDelay only applies to mode = \"timer\"; the daemon draws a new delay for each run"
        ++ optional (
          cfg.mode == "timer" && s.daemon.pollIntervalSec > 0
        ) "services.gitopsd.settings.daemon.pollIntervalSec only applies to mode = \"daemon\"; set mode = \"daemon\" to poll";

      environment.systemPackages = [ cfg.package ];
      security.polkit = mkIf (cfg.trigger.group != null) {
        enable = true;
        extraConfig = triggerRule;
      };
      users.groups = mkIf (cfg.trigger.group != null) { ${cfg.trigger.group} = { }; };
      environment.etc."gitopsd/config.json".source = checkedConfig;
      environment.etc."gitopsd/fleet-allowed-signers" = mkIf (cfg.fleet.allowedSigners != { }) {
        source = allowedSignersFile;
      };
      services.gitopsd.settings.fleet.allowedSignersFile = mkIf (cfg.fleet.allowedSigners != { }) (
        lib.mkDefault "/etc/gitopsd/fleet-allowed-signers"
      );
      # The hosts the fleet view expects: a host listed here that never
      # published is shown missing (exit 1), not silently absent.
      services.gitopsd.settings.fleet.expectedHosts = mkIf (cfg.fleet.allowedSigners != { }) (
        lib.mkDefault (lib.attrNames cfg.fleet.allowedSigners)
      );

      # The state directory is root's; its sync/ subdirectory is the dotfiles
      # user's (sync state and sync lock, docs/design.md "Two locks"), also
      # in daemon mode where no unit with User= creates it.
      systemd.tmpfiles.rules = [
        "d ${s.stateDir} 0755 root root -"
      ]
      ++ optional syncEnabled "d ${s.stateDir}/sync 0700 ${dotfilesUser} ${dotfilesGroup} -";
    }

    (mkIf cfg.bootValidation.enable {
      systemd.services.gitopsd-boot-validate = {
        description = "gitopsd: validate this boot (units and checks), roll back to the golden generation after repeated failures";
        wantedBy = [ "multi-user.target" ];
        # Requires semantics: if this unit fails, boot-complete.target is
        # never reached (systemd's automatic boot assessment contract).
        requiredBy = [ "boot-complete.target" ];
        before = [ "boot-complete.target" ];
        after = validationAfter ++ [ "network-online.target" ];
        wants = [ "network-online.target" ];
        # Once per boot: a switch must not run it again.
        restartIfChanged = false;
        unitConfig.X-StopOnRemoval = false;
        path = rootPath;
        environment = rootEnvironment;
        serviceConfig = rootHardening // stateDirectory // {
          Type = "oneshot";
          RemainAfterExit = true;
          ExecStart = "${gitopsd} boot validate --config ${configPath}";
          TimeoutStartSec = s.validation.timeoutSec + 300;
        };
      };
      # Without boot counting nothing else pulls the target in; this makes
      # the validation (and anything ordered after boot-complete.target) run
      # on every boot.
      systemd.targets.boot-complete.wantedBy = [ "multi-user.target" ];
    })

    (mkIf (cfg.mode == "timer") {
      systemd.services.gitopsd-sync = mkIf syncEnabled {
        description = "gitopsd: sync the dotfiles of ${dotfilesUser} (jj + chezmoi)";
        after = [ "network-online.target" ];
        wants = [ "network-online.target" ];
        restartIfChanged = false;
        path = syncPath;
        environment.GITOPSD_CONFIG = configPath;
        serviceConfig = syncHardening // {
          Type = "oneshot";
          User = dotfilesUser;
          Group = dotfilesGroup;
          ExecStart = "${gitopsd} sync --config ${configPath}";
          # Only the innermost directory becomes the user's.
          StateDirectory = "${stateDirName}/sync";
          StateDirectoryMode = "0700";
          # gitopsd's compile and code caches (src/cli/compile-cache.ts
          # cacheBase reads $CACHE_DIRECTORY): under PrivateTmp the default,
          # $TMPDIR, is a /tmp emptied after every run, so every run made and
          # wrote the cache and none read it (about 12 ms a run).
          CacheDirectory = "${stateDirName}/sync";
          CacheDirectoryMode = "0700";
          # gitopsd-upgrade.service is ordered after this unit, and systemd
          # gives a oneshot unit no start timeout by default
          # (systemd.service(5) TimeoutStartSec=): a sync that never ends
          # would hold the upgrade back for ever. The dotfiles user can make
          # it so (kill -STOP on its own gitopsd; review 16). After
          # syncTimeoutSec the sync is stopped and fails; the upgrade, which
          # only Wants= it, then runs.
          TimeoutStartSec = cfg.syncTimeoutSec;
          KillMode = "mixed";
          TimeoutStopSec = cfg.stopTimeoutSec;
        };
      };

      systemd.services.gitopsd-upgrade = upgradeService;

      systemd.timers.gitopsd = {
        description = "gitopsd schedule (settings.schedule.cron)";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = onCalendar;
          Persistent = s.schedule.persistent;
          RandomizedDelaySec = toString s.schedule.randomizedDelaySec;
          FixedRandomDelay = cfg.fixedRandomDelay;
          Unit = "gitopsd-upgrade.service";
        };
      };
    })

    # The fleet heartbeat (docs/fleet.md "When a host publishes"): every run
    # publishes at its end; between runs this timer asks hourly, and
    # `gitopsd fleet publish` pushes only when the status changed or
    # settings.fleet.heartbeatSec has passed, so silence stays visible. In
    # both modes: the daemon publishes after its own cycles only. A run that
    # holds the host lock makes this one exit 75, retried the next hour.
    (mkIf s.fleet.enable {
      systemd.services.gitopsd-fleet-publish = {
        description = "gitopsd: publish this host's status to the fleet when it changed or the heartbeat is due";
        # A status's publishedAt and healthySince come from this clock (see upgradeService).
        after = [
          "network-online.target"
          "time-sync.target"
        ];
        wants = [ "network-online.target" ];
        restartIfChanged = false;
        path = rootPath;
        environment = rootEnvironment;
        serviceConfig = rootHardening // stateDirectory // {
          Type = "oneshot";
          ExecStart = "${gitopsd} fleet publish --config ${configPath}";
          # 75: the host lock is held by a run, or the remote is unreachable.
          SuccessExitStatus = [ 75 ];
        };
      };
      systemd.timers.gitopsd-fleet-publish = {
        description = "gitopsd fleet heartbeat";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = "hourly";
          RandomizedDelaySec = "15min";
          Persistent = true;
        };
      };
    })

    (mkIf (cfg.mode == "daemon") {
      # Not scheduled in daemon mode: only `gitopsd trigger` starts it.
      systemd.services.gitopsd-upgrade = mkIf (cfg.trigger.group != null) upgradeService;
      systemd.services.gitopsd = {
        description = "gitopsd daemon: the cycle (dotfile sync, upgrade) on settings.schedule.cron";
        wantedBy = [ "multi-user.target" ];
        # time-sync.target: see upgradeService.
        after = [
          "network-online.target"
          "time-sync.target"
          "gitopsd-boot-validate.service"
        ];
        wants = [ "network-online.target" ];
        # The daemon activates systems itself: switch-to-configuration must
        # never restart or stop it mid-activation. A changed config file is
        # a reload (SIGHUP), which the daemon defers until its cycle ends.
        restartIfChanged = false;
        reloadTriggers = [ checkedConfig ];
        unitConfig.X-StopOnRemoval = false;
        path = daemonPath;
        environment = rootEnvironment;
        serviceConfig = rootHardening // stateDirectory // {
          Type = "simple";
          ExecStart = "${daemonExec} daemon --config ${configPath}";
          ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
          Restart = "on-failure";
          RestartSec = "30s";
          # A config error does not heal by restarting.
          RestartPreventExitStatus = [ 78 ];
          KillMode = "mixed";
          TimeoutStopSec = cfg.stopTimeoutSec;
        };
      };
    })
  ]);
}
