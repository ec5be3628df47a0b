//! The checks `check` runs section by section: duplicates, references, the files an install copies,
//! and every `Ndi\\params` keyword against the driver's keyword table.

use super::*;

/// Directives a section may give more than once (each adds to a list).
pub(super) const REPEATABLE: [&str; 14] = [
    "addreg",
    "delreg",
    "copyfiles",
    "delfiles",
    "renfiles",
    "bitreg",
    "addservice",
    "delservice",
    "include",
    "needs",
    "copyinf",
    "addproperty",
    "delproperty",
    "excludefromselect",
];

/// A directive given twice in one section (an error whether or not the values agree: Windows
/// takes one of them), a string defined twice, and a registry value an `AddReg` section writes
/// twice.
pub(super) fn duplicates(inf: &Inf, problems: &mut Vec<String>) {
    for (name, lines) in &inf.sections {
        let mut seen: BTreeMap<String, &Line> = BTreeMap::new();
        for line in lines {
            let Some(key) = &line.key else { continue };
            let lower = key.to_ascii_lowercase();
            if name != "strings" && REPEATABLE.contains(&lower.as_str()) {
                continue;
            }
            match seen.get(&lower) {
                Some(first) if first.fields.len() == line.fields.len()
                    && first.fields.iter().zip(&line.fields).all(|(a, b)| same(a, b)) =>
                {
                    problems.push(format!(
                        "line {}: {key} is given twice in [{name}] (first on line {})",
                        line.number, first.number
                    ));
                }
                Some(first) => problems.push(format!(
                    "line {}: {key} is given twice in [{name}] with different values (line {} says {:?}, line {} says {:?})",
                    line.number,
                    first.number,
                    first.fields.join(","),
                    line.number,
                    line.fields.join(",")
                )),
                None => {
                    seen.insert(lower, line);
                }
            }
        }
        // Registry lines (no key): HKR, subkey, value name, flags, data.
        let mut values: BTreeMap<(String, String, String), &Line> = BTreeMap::new();
        for line in lines.iter().filter(|l| l.key.is_none() && l.fields.len() >= 3) {
            let f = &line.fields;
            if !f[0].to_ascii_uppercase().starts_with("HK") {
                continue;
            }
            let id = (
                f[0].to_ascii_uppercase(),
                f[1].to_ascii_lowercase().replace('/', "\\"),
                f[2].to_ascii_lowercase(),
            );
            match values.get(&id) {
                Some(first) => {
                    let agree =
                        first.fields.len() == f.len() && first.fields.iter().zip(f).all(|(a, b)| same(a, b));
                    let what = if agree { "" } else { " with different data" };
                    problems.push(format!(
                        "line {}: [{name}] writes {}\\{}\\{} twice{what} (first on line {})",
                        line.number, f[0], f[1], f[2], first.number
                    ));
                }
                None => {
                    values.insert(id, line);
                }
            }
        }
    }
}

/// Every section `section`'s `directive` lists must exist (`CopyFiles`' `@file` form names a file).
pub(super) fn referenced(inf: &Inf, section: &str, directive: &str, problems: &mut Vec<String>) {
    for line in inf
        .section(section)
        .into_iter()
        .flatten()
        .filter(|l| has_key(l, directive))
    {
        for target in line
            .fields
            .iter()
            .filter(|f| !f.is_empty() && !f.starts_with('@'))
        {
            if inf.section(target).is_none() {
                problems.push(format!(
                    "line {}: {directive} names [{target}], which does not exist",
                    line.number
                ));
            }
        }
    }
}

/// The files: what the `CopyFiles` sections copy, what [`SourceDisksFiles`] lists (on a disk that
/// [`SourceDisksNames`] defines) and the service binary must be the same files.
pub(super) fn files(inf: &Inf, install: &str, problems: &mut Vec<String>) {
    let decorated = |base: &str| -> Vec<&[Line]> {
        [base.to_string(), format!("{base}.amd64")]
            .iter()
            .filter_map(|n| inf.section(n))
            .collect()
    };
    let disks: Vec<String> = decorated("SourceDisksNames")
        .into_iter()
        .flatten()
        .filter_map(|l| l.key.clone())
        .collect();
    if disks.is_empty() {
        problems.push("no [SourceDisksNames] section defines a source disk".into());
    }
    let sources = decorated("SourceDisksFiles");
    if sources.is_empty() {
        problems.push("no [SourceDisksFiles] section lists the driver's files".into());
    }
    let mut listed: BTreeMap<String, usize> = BTreeMap::new();
    for line in sources.into_iter().flatten() {
        let Some(file) = &line.key else {
            problems.push(format!(
                "line {}: a [SourceDisksFiles] entry without a file name",
                line.number
            ));
            continue;
        };
        let disk = line.fields.first().map_or("", String::as_str);
        if !disks.iter().any(|d| same(d, disk)) {
            problems.push(format!(
                "line {}: {file} is on disk {disk:?}, which [SourceDisksNames] does not define",
                line.number
            ));
        }
        listed.insert(file.to_ascii_lowercase(), line.number);
    }
    let mut copied: BTreeMap<String, usize> = BTreeMap::new();
    for line in inf
        .section(install)
        .into_iter()
        .flatten()
        .filter(|l| has_key(l, "CopyFiles"))
    {
        for target in line.fields.iter().filter(|f| !f.is_empty()) {
            if let Some(file) = target.strip_prefix('@') {
                copied.insert(file.to_ascii_lowercase(), line.number);
                continue;
            }
            for copy in inf.section(target).into_iter().flatten() {
                let file = copy
                    .key
                    .clone()
                    .or_else(|| copy.fields.first().cloned())
                    .unwrap_or_default();
                if !file.is_empty() {
                    copied.insert(file.to_ascii_lowercase(), copy.number);
                }
            }
        }
    }
    for (file, line) in &copied {
        if !listed.contains_key(file) {
            problems.push(format!(
                "line {line}: {file} is copied but [SourceDisksFiles] does not list it"
            ));
        }
    }
    for (file, line) in &listed {
        if !copied.contains_key(file) {
            problems.push(format!(
                "line {line}: {file} is listed in [SourceDisksFiles] but no CopyFiles section copies it"
            ));
        }
    }
    let services = format!("{install}.Services");
    let service = inf
        .section(&services)
        .and_then(|s| s.iter().find(|l| has_key(l, "AddService")))
        .and_then(|l| l.fields.get(2));
    if let Some(Ok(binary)) = service.and_then(|s| inf.value(s, "ServiceBinary")) {
        let file = binary.rsplit('\\').next().unwrap_or(&binary).to_ascii_lowercase();
        if !copied.contains_key(&file) {
            problems.push(format!(
                "ServiceBinary {binary} names {file}, which no CopyFiles section copies"
            ));
        }
    }
}

pub(super) fn has_key(line: &Line, key: &str) -> bool {
    line.key.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(key))
}

/// The comma list value of `key` in `section` (`AddReg`, `CopyFiles`).
pub(super) fn list(inf: &Inf, section: &str, key: &str) -> Vec<String> {
    inf.section(section)
        .into_iter()
        .flatten()
        .filter(|l| has_key(l, key))
        .flat_map(|l| l.fields.iter().filter(|f| !f.is_empty()).cloned())
        .collect()
}

pub(super) fn install_section(inf: &Inf, problems: &mut Vec<String>) -> Option<String> {
    let Some(manufacturer) = inf.section("Manufacturer").and_then(|m| m.first()) else {
        problems.push("no [Manufacturer] section".into());
        return None;
    };
    let mut decorated = manufacturer.fields.iter();
    let base = decorated.next().cloned().unwrap_or_default();
    let models: Vec<String> = match decorated.map(|d| format!("{base}.{d}")).collect::<Vec<_>>() {
        v if v.is_empty() => vec![base],
        v => v,
    };
    for model in &models {
        let Some(lines) = inf.section(model) else {
            problems.push(format!("[Manufacturer] names [{model}], which does not exist"));
            continue;
        };
        if let Some(line) = lines.iter().find(|l| {
            l.fields
                .iter()
                .skip(1)
                .any(|id| id.eq_ignore_ascii_case(HARDWARE_ID))
        }) {
            return line.fields.first().cloned();
        }
    }
    problems.push(format!("no model section installs hardware id {HARDWARE_ID}"));
    None
}

pub(super) fn properties(inf: &Inf, install: &str, problems: &mut Vec<String>) -> BTreeMap<String, Property> {
    let mut props: BTreeMap<String, Property> = BTreeMap::new();
    let mut ndi = BTreeMap::new();
    for reg in list(inf, install, "AddReg") {
        let Some(lines) = inf.section(&reg) else {
            problems.push(format!("[{install}] AddReg names [{reg}], which does not exist"));
            continue;
        };
        for line in lines {
            let f = &line.fields;
            if f.len() < 5 || !f[0].eq_ignore_ascii_case("HKR") {
                continue;
            }
            let value = match inf.substitute(&f[4], line.number) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            let key = f[1].replace('/', "\\");
            let lower = key.to_ascii_lowercase();
            if lower == "ndi" || lower == "ndi\\interfaces" {
                ndi.insert(f[2].to_ascii_lowercase(), value);
            } else if let Some(rest) = lower.strip_prefix("ndi\\params\\") {
                let (name, is_enum) = match rest.strip_suffix("\\enum") {
                    Some(n) => (n, true),
                    None => (rest, false),
                };
                // Keep the keyword's own spelling for messages.
                let start = key.len() - rest.len();
                let spelled = key[start..start + name.len()].to_string();
                let prop = props.entry(spelled).or_insert_with(|| Property {
                    line: line.number,
                    ..Property::default()
                });
                if is_enum {
                    prop.enums.push((f[2].clone(), value));
                } else {
                    prop.values.insert(f[2].to_ascii_lowercase(), value);
                }
            }
        }
    }
    for (key, wanted) in [
        ("service", "rvnic"),
        ("upperrange", "ndis5"),
        ("lowerrange", "ethernet"),
    ] {
        match ndi.get(key) {
            Some(v) if v.eq_ignore_ascii_case(wanted) => {}
            Some(v) => problems.push(format!("Ndi {key} is {v:?}, expected {wanted:?}")),
            None => problems.push(format!("no Ndi {key} value (expected {wanted:?})")),
        }
    }
    props
}

/// The INF's advanced properties must be exactly the driver's keywords, with its types, defaults,
/// ranges, enumerations and descriptions.
pub(super) fn check_keywords(props: &BTreeMap<String, Property>, problems: &mut Vec<String>) {
    for (name, prop) in props {
        if !KEYWORDS.iter().any(|k| k.name == name) {
            problems.push(format!(
                "line {}: advanced property {name} is not a keyword the driver reads",
                prop.line
            ));
        }
    }
    for k in &KEYWORDS {
        match props.get(k.name) {
            None => problems.push(format!("keyword {} has no advanced property in the INF", k.name)),
            Some(prop) => check_keyword(k, prop, problems),
        }
    }
}

pub(super) fn check_keyword(k: &Keyword, prop: &Property, problems: &mut Vec<String>) {
    let get = |key: &str| prop.values.get(key).map(String::as_str);
    let mut differ = |what: &str, inf: Option<&str>, driver: &str| {
        if !inf.is_some_and(|v| same(v, driver)) {
            problems.push(format!(
                "line {}: {} {what} is {}, the driver's table says {driver:?}",
                prop.line,
                k.name,
                inf.map_or_else(|| "missing".to_string(), |v| format!("{v:?}"))
            ));
        }
    };
    differ("ParamDesc", get("paramdesc"), k.description);
    match k.kind {
        Kind::Enum(values) => {
            differ("type", get("type"), "enum");
            differ("default", get("default"), &k.default.to_string());
            // Entries in any order, values as numbers: what Windows shows does not depend on them.
            let mut inf: Vec<(Option<u64>, String, String)> = prop
                .enums
                .iter()
                .map(|(v, text)| (number(v), v.clone(), text.clone()))
                .collect();
            inf.sort();
            let mut driver: Vec<(Option<u64>, String, String)> = values
                .iter()
                .map(|(v, text)| (Some(u64::from(*v)), v.to_string(), (*text).to_string()))
                .collect();
            driver.sort();
            let agree = inf.len() == driver.len()
                && inf
                    .iter()
                    .zip(&driver)
                    .all(|(a, b)| a.0.is_some() && a.0 == b.0 && a.2 == b.2);
            if !agree {
                let inf: Vec<(String, String)> = inf.into_iter().map(|(_, v, t)| (v, t)).collect();
                let driver: Vec<(String, String)> = driver.into_iter().map(|(_, v, t)| (v, t)).collect();
                problems.push(format!(
                    "line {}: {} enumeration is {inf:?}, the driver's table says {driver:?}",
                    prop.line, k.name
                ));
            }
        }
        Kind::Int { min, max, step } => {
            differ("type", get("type"), "int");
            differ("default", get("default"), &k.default.to_string());
            differ("min", get("min"), &min.to_string());
            differ("max", get("max"), &max.to_string());
            differ("step", get("step"), &step.to_string());
        }
        Kind::MacAddress => {
            differ("type", get("type"), "edit");
            differ("default", get("default"), "");
            differ("LimitText", get("limittext"), "12");
        }
    }
}

/// Runs `rvnic check-inf PATH [--image IMAGE]`.
#[must_use]
pub fn run(path: &Path, image: Option<&Path>) -> ExitCode {
    let imports = match image {
        None => Imports::Declared,
        Some(image) => match crate::input::read_bounded(image, crate::input::MAX_IMAGE)
            .and_then(|data| crate::sys::imports(&data))
        {
            Ok(list) => Imports::Image(list),
            Err(e) => {
                eprintln!(
                    "rvnic check-inf: cannot read the imports of {}: {e}",
                    image.display()
                );
                return ExitCode::from(2);
            }
        },
    };
    let bytes = match crate::input::read_bounded(path, crate::input::MAX_INF) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("rvnic check-inf: {e}");
            return ExitCode::from(2);
        }
    };
    let inf = match decode(&bytes).and_then(|t| Inf::parse(&t)) {
        Ok(inf) => inf,
        Err(e) => {
            eprintln!("rvnic check-inf: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let problems = check(&inf, &imports);
    if problems.is_empty() {
        println!(
            "{}: ok (Net class, NCF_VIRTUAL, {HARDWARE_ID}, driver-store files, service, a target OS with every import, {} keywords match the driver)",
            path.display(),
            KEYWORDS.len()
        );
        ExitCode::SUCCESS
    } else {
        for p in &problems {
            println!("{}: {p}", path.display());
        }
        ExitCode::FAILURE
    }
}
