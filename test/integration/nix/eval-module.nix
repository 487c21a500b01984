# Evaluate nix/module.nix for one host configuration with the stub lib and
# pkgs (stub-lib.nix, stub-pkgs.nix), and return what it defines, as JSON:
#
#   nix-instantiate --eval --strict --json --read-write-mode \
#     test/integration/nix/eval-module.nix --argstr host '<json>'
#
# `host` is the JSON of the user's `services.gitopsd` plus `users`. The
# module is called with `config` = the fixed point of (option defaults +
# the user's definitions) + a few NixOS values it reads; its `config` output
# is flattened (mkIf, mkMerge, mkDefault) into plain attrsets.
{ host }:
let
  inherit (builtins)
    attrNames
    concatMap
    filter
    foldl'
    fromJSON
    isAttrs
    isList
    listToAttrs
    mapAttrs
    throw
    ;
  lib = import ./stub-lib.nix;
  pkgs = import ./stub-pkgs.nix { inherit lib; };
  input = fromJSON host;
  user = input.gitopsd // {
    package = pkgs.gitopsd;
    extraPackages = map pkgs.stubPackage (input.gitopsd.extraPackages or [ ]);
  };

  isOption = v: isAttrs v && (v._type or null) == "option";

  # A defined value for an option: checked against its type; a submodule
  # gets its own options' defaults plus any freeform keys.
  valueFor =
    path: opt: def:
    let
      t = opt.type;
    in
    if t ? submodule then
      evalOptions path t.submodule.options (if def == null then { } else def) (t.submodule.freeformType != null)
    else if t.check def then
      def
    else
      throw "stub module system: the definition of ${path} does not have type ${t.name}: ${builtins.toJSON def}";

  evalOptions =
    path: opts: defs: freeform:
    let
      declared = mapAttrs (
        n: o:
        let
          p = if path == "" then n else "${path}.${n}";
        in
        if isOption o then
          (
            if defs ? ${n} then
              valueFor p o defs.${n}
            else if o ? default then
              valueFor p o o.default
            else
              throw "stub module system: ${p} is used but has no value"
          )
        else
          evalOptions p o (defs.${n} or { }) false
      ) opts;
      undeclared = filter (n: !(opts ? ${n})) (attrNames defs);
    in
    if undeclared != [ ] && !freeform then
      throw "stub module system: option ${path}.${builtins.head undeclared} does not exist"
    else
      declared // listToAttrs (map (n: { name = n; value = defs.${n}; }) undeclared);

  # Flatten mkIf / mkMerge / mkDefault; "absent" removes an attribute.
  absent = {
    _type = "absent";
  };
  flatten =
    v:
    if isAttrs v && (v._type or null) == "if" then
      (if v.condition then flatten v.content else absent)
    else if isAttrs v && (v._type or null) == "merge" then
      foldl' merge { } (filter (x: x != absent) (map flatten v.contents))
    else if isAttrs v && (v._type or null) == "override" then
      flatten v.content
    else if isAttrs v && !(v ? outPath) && !(v ? _type) then
      let
        m = mapAttrs (_: flatten) v;
      in
      listToAttrs (
        concatMap (n: if m.${n} == absent then [ ] else [ { name = n; value = m.${n}; } ]) (attrNames m)
      )
    else
      v;
  merge =
    a: b:
    a
    // mapAttrs (
      n: bv:
      if !(a ? ${n}) then
        bv
      else if isAttrs a.${n} && isAttrs bv && !(bv ? outPath) then
        merge a.${n} bv
      else if isList a.${n} && isList bv then
        a.${n} ++ bv
      else
        throw "stub module system: conflicting definitions of ${n}"
    ) b;

  module = import ../../../nix/module.nix;
  evaluated = module {
    inherit lib pkgs config;
  };
  config = {
    services.gitopsd = (evalOptions "" evaluated.options { services.gitopsd = user; } false).services.gitopsd;
    users.users = input.users or { };
    nix = {
      package = pkgs.stubPackage "nix";
      envVars = { };
    };
    systemd.package = pkgs.stubPackage "systemd";
    networking.proxy.envVars = { };
  };
  flat = flatten evaluated.config;
  out = if flat == absent then { } else flat;
  etc = out.environment.etc or { };
in
{
  inherit (config.services.gitopsd) settings;
  config = out;
  # The build-time check: the derivation /etc/gitopsd/config.json points at.
  configCheck = if etc ? "gitopsd/config.json" then etc."gitopsd/config.json".source.stub else null;
}
