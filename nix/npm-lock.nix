# package-lock.json with a registry URL for every fetched package.
#
# importNpmLock fetches each package from its "resolved" URL. Lockfiles
# written with npm's `omit-lockfile-registry-resolved` (as on the machines
# this project is developed on) have only "integrity", so the URL is
# rebuilt the way npm itself does for the default registry:
#   https://registry.npmjs.org/<name>/-/<basename>-<version>.tgz
# The integrity hash still pins the exact tarball. Entries that are links,
# the root package, or already have "resolved" are kept as they are.
# Builtins only, so the test bed evaluates it without nixpkgs
# (test/integration/nix/nix-eval.test.ts).
{
  lock,
  registry ? "https://registry.npmjs.org",
}:
let
  inherit (builtins)
    elemAt
    length
    mapAttrs
    match
    split
    filter
    isString
    ;
  # "node_modules/a/node_modules/@s/b" -> "@s/b"
  nameOf =
    key:
    let
      parts = filter isString (split "node_modules/" key);
    in
    elemAt parts (length parts - 1);
  baseOf =
    name:
    let
      m = match "@[^/]+/(.+)" name;
    in
    if m == null then name else elemAt m 0;
  fix =
    key: module:
    if key == "" || module ? resolved || (module.link or false) || !(module ? version) then
      module
    else
      let
        # An alias ("x": "npm:real@1") records the real name in "name".
        name = module.name or (nameOf key);
      in
      module // { resolved = "${registry}/${name}/-/${baseOf name}-${module.version}.tgz"; };
in
lock // { packages = mapAttrs fix (lock.packages or { }); }
