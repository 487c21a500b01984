# Stand-ins for the few nixpkgs values nix/module.nix uses. A "package" is
# an attrset with a recognisable outPath; formats.json.generate writes the
# real JSON file to the store (run nix-instantiate with --read-write-mode),
# so the test reads exactly what the module would put in /etc.
{ lib }:
let
  pkg = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
in
{
  formats.json = _: {
    type = lib.types.json;
    generate = name: value: builtins.toFile name (builtins.toJSON value);
  };
  runCommand =
    name: env: script:
    pkg name
    // {
      stub = {
        inherit name script;
        nativeBuildInputs = map (p: p.outPath or p) (env.nativeBuildInputs or [ ]);
      };
    };
  git = pkg "git";
  jujutsu = pkg "jujutsu";
  chezmoi = pkg "chezmoi";
  openssh = pkg "openssh";
  getent = pkg "getent";
  coreutils = pkg "coreutils";
  nh = pkg "nh";
  curl = pkg "curl";
  gitopsd = pkg "gitopsd";
  stubPackage = pkg;
}
