# A minimal stand-in for nixpkgs' `lib`, just enough of the module system
# for eval-module.nix to evaluate nix/module.nix without nixpkgs (there is
# none offline). It is NOT the module system: no priorities beyond "a
# definition beats a default", no merging of several modules, no option
# docs. What it does check: every definition against its option's type.
let
  inherit (builtins)
    all
    any
    attrNames
    concatStringsSep
    elem
    filter
    isAttrs
    isBool
    isFloat
    isInt
    isList
    isString
    stringLength
    substring
    ;

  mkType = name: check: extra: { _type = "optionType"; inherit name check; } // extra;

  isStorePathLike = v: (isAttrs v && v ? outPath) || (isString v && substring 0 11 v == "/nix/store/");

  json =
    let
      t = mkType "json" (
        v:
        v == null
        || isBool v
        || isInt v
        || isFloat v
        || isString v
        || (isList v && all t.check v)
        || (isAttrs v && all (k: t.check v.${k}) (attrNames v))
      ) { };
    in
    t;
in
rec {
  types = {
    bool = mkType "bool" isBool { };
    str = mkType "str" isString { };
    int = mkType "int" isInt { };
    ints = {
      positive = mkType "positive int" (v: isInt v && v > 0) { };
      unsigned = mkType "unsigned int" (v: isInt v && v >= 0) { };
    };
    package = mkType "package" isStorePathLike { };
    enum = vals: mkType "one of ${concatStringsSep ", " vals}" (v: elem v vals) { };
    nullOr = t: mkType "null or ${t.name}" (v: v == null || t.check v) { };
    listOf = t: mkType "list of ${t.name}" (v: isList v && all t.check v) { };
    attrsOf = t: mkType "attrs of ${t.name}" (v: isAttrs v && all (k: t.check v.${k}) (attrNames v)) { };
    # The only submodule form nix/module.nix uses: a static { options; freeformType; }.
    submodule =
      m:
      mkType "submodule" isAttrs {
        submodule = {
          options = m.options or { };
          freeformType = m.freeformType or null;
        };
      };
    inherit json;
  };

  mkOption = attrs: { _type = "option"; } // attrs;
  mkEnableOption = what: mkOption {
    type = types.bool;
    default = false;
    description = "Whether to enable ${what}.";
  };
  literalExpression = text: {
    _type = "literalExpression";
    inherit text;
  };

  mkIf = condition: content: {
    _type = "if";
    inherit condition content;
  };
  mkMerge = contents: {
    _type = "merge";
    inherit contents;
  };
  mkDefault = content: {
    _type = "override";
    priority = 1000;
    inherit content;
  };

  optional = cond: x: if cond then [ x ] else [ ];
  optionals = cond: xs: if cond then xs else [ ];
  optionalString = cond: s: if cond then s else "";
  optionalAttrs = cond: a: if cond then a else { };
  hasPrefix = p: s: substring 0 (stringLength p) s == p;
  removePrefix =
    p: s: if hasPrefix p s then substring (stringLength p) (stringLength s - stringLength p) s else s;
  concatStringsSep = builtins.concatStringsSep;
  filterAttrs =
    pred: set:
    builtins.listToAttrs (
      map (n: {
        name = n;
        value = set.${n};
      }) (filter (n: pred n set.${n}) (attrNames set))
    );
  inherit any all;
}
