# schedule.cron (the daemon's node-cron expression) to a systemd OnCalendar
# value, for gitopsd.timer. Builtins only: it evaluates without nixpkgs, so the
# test bed checks it (test/integration/nix/cron.test.ts compares the next runs
# systemd computes for the result with the daemon's own schedule).
#
# Supported, as node-cron reads them (docs/nixos.md "Schedule"):
#   five fields "min hour dom month dow", or six with leading seconds;
#   per field: "*", "?", N, A-B, */S, A-B/S, comma lists of these;
#   month names jan..dec and weekday names sun..sat (any case, or full
#   names), weekday 7 = Sunday; macros @yearly @annually @monthly @weekly
#   @daily @midnight @hourly.
# Not supported (returns an error; set services.gitopsd.onCalendar instead):
#   L, W and # tokens, and ranges that wrap (e.g. weekdays 5-1).
#
# Semantics match: node-cron and systemd both require the day of month AND
# the weekday to match (classic Vixie cron ORs them).
#
# Result: { calendar = "<OnCalendar>"; } or { error = "<why>"; }.
let
  inherit (builtins)
    all
    any
    concatStringsSep
    elemAt
    filter
    foldl'
    fromJSON
    genList
    head
    isString
    length
    listToAttrs
    map
    match
    split
    replaceStrings
    stringLength
    toString
    ;

  upper = [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ];
  lower = [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ];
  toLower = replaceStrings upper lower;

  words = s: filter (w: isString w && w != "") (split "[[:space:]]+" s);

  # "007" -> 7; fromJSON refuses leading zeros, so strip them first.
  toInt = s: fromJSON (head (match "0*([0-9]+)" s));

  pad2 = n: let s = toString n; in if stringLength s == 1 then "0${s}" else s;

  named =
    names:
    listToAttrs (
      genList (i: {
        name = elemAt names i;
        value = i;
      }) (length names)
    );

  monthNames =
    named [
      "jan"
      "feb"
      "mar"
      "apr"
      "may"
      "jun"
      "jul"
      "aug"
      "sep"
      "oct"
      "nov"
      "dec"
    ]
    // named [
      "january"
      "february"
      "march"
      "april"
      "may"
      "june"
      "july"
      "august"
      "september"
      "october"
      "november"
      "december"
    ];
  # Months count from 1.
  monthValue = n: if monthNames ? ${n} then monthNames.${n} + 1 else null;

  dayNames =
    named [
      "sun"
      "mon"
      "tue"
      "wed"
      "thu"
      "fri"
      "sat"
    ]
    // named [
      "sunday"
      "monday"
      "tuesday"
      "wednesday"
      "thursday"
      "friday"
      "saturday"
    ];
  dayValue = n: dayNames.${n} or null;
  systemdDays = [
    "Sun"
    "Mon"
    "Tue"
    "Wed"
    "Thu"
    "Fri"
    "Sat"
  ];

  fields = {
    second = {
      min = 0;
      max = 59;
      name = _: null;
    };
    minute = {
      min = 0;
      max = 59;
      name = _: null;
    };
    hour = {
      min = 0;
      max = 23;
      name = _: null;
    };
    dom = {
      min = 1;
      max = 31;
      name = _: null;
    };
    month = {
      min = 1;
      max = 12;
      name = monthValue;
    };
    # 7 is Sunday too; folded to 0 after expansion.
    dow = {
      min = 0;
      max = 7;
      name = dayValue;
    };
  };

  value =
    f: s:
    let
      l = toLower s;
    in
    if match "[0-9]+" l != null then toInt l else f.name l;

  inRange = f: v: v != null && v >= f.min && v <= f.max;

  # One comma-separated item to a list of values, or null when unsupported.
  expandItem =
    f: item:
    let
      parts = match "([^/]+)(/([0-9]+))?" item;
      base = elemAt parts 0;
      stepStr = elemAt parts 2;
      step = if stepStr == null then 1 else toInt stepStr;
      range = match "([^-]+)-([^-]+)" base;
      bounds =
        if base == "*" || base == "?" then
          [
            f.min
            f.max
          ]
        else if range != null then
          [
            (value f (elemAt range 0))
            (value f (elemAt range 1))
          ]
        # "N/S" is refused by node-cron; refuse it here too.
        else if stepStr == null then
          [
            (value f base)
            (value f base)
          ]
        else
          null;
      lo = elemAt bounds 0;
      hi = elemAt bounds 1;
    in
    if parts == null || bounds == null || step < 1 then
      null
    else if !(inRange f lo && inRange f hi) || lo > hi then
      null
    else
      genList (i: lo + i * step) ((hi - lo) / step + 1);

  expandField =
    f: text:
    let
      items = filter isString (split "," text);
      lists = map (expandItem f) items;
    in
    if any (x: x == null) lists then null else foldl' (a: b: a ++ b) [ ] lists;

  # Sorted, without duplicates.
  uniqSorted = xs: filter (v: any (x: x == v) xs) (genList (i: i) 61);

  # Render a set of values; the full range is "*".
  render =
    f: vs: if length vs == f.max - f.min + 1 then "*" else concatStringsSep "," (map pad2 vs);

  convert5 =
    secondF: m:
    let
      second = expandField fields.second secondF;
      minute = expandField fields.minute (elemAt m 0);
      hour = expandField fields.hour (elemAt m 1);
      dom = expandField fields.dom (elemAt m 2);
      month = expandField fields.month (elemAt m 3);
      dowRaw = expandField fields.dow (elemAt m 4);
      dow = if dowRaw == null then null else uniqSorted (map (d: if d == 7 then 0 else d) dowRaw);
      bad = filter (p: p.v == null) [
        {
          n = "seconds";
          v = second;
        }
        {
          n = "minute";
          v = minute;
        }
        {
          n = "hour";
          v = hour;
        }
        {
          n = "day of month";
          v = dom;
        }
        {
          n = "month";
          v = month;
        }
        {
          n = "day of week";
          v = dow;
        }
      ];
      dowPart = if length dow == 7 then "" else concatStringsSep "," (map (elemAt systemdDays) dow) + " ";
      r = f: vs: render f (uniqSorted vs);
    in
    if bad != [ ] then
      {
        error = "cannot convert the ${(head bad).n} field; set services.gitopsd.onCalendar to an equivalent systemd calendar expression";
      }
    else
      {
        calendar = "${dowPart}*-${r fields.month month}-${r fields.dom dom} ${r fields.hour hour}:${r fields.minute minute}:${r fields.second second}";
      };

  macros = {
    "@yearly" = "0 0 1 1 *";
    "@annually" = "0 0 1 1 *";
    "@monthly" = "0 0 1 * *";
    "@weekly" = "0 0 * * 0";
    "@daily" = "0 0 * * *";
    "@midnight" = "0 0 * * *";
    "@hourly" = "0 * * * *";
  };
in
expr:
let
  trimmed = words expr;
  w = if length trimmed == 1 && macros ? ${toLower (head trimmed)} then words macros.${toLower (head trimmed)} else trimmed;
  n = length w;
in
if n == 5 then
  convert5 "0" w
else if n == 6 then
  convert5 (head w) (genList (i: elemAt w (i + 1)) 5)
else
  { error = "schedule.cron \"${expr}\" must have 5 or 6 fields; set services.gitopsd.onCalendar instead"; }
