//! Mankowska, Meisel & Bierwirth (2014) instances (`InstanzCPLEX_HCSRP_*.txt`).
//!
//! The file is a sequence of blocks, each a keyword line then whitespace-separated
//! numbers: `nbNodes` (patients + 2 depot copies: node 0 and node nbNodes-1),
//! `nbVehi`, `nbServi`, `r` (nbNodes rows x nbServi 0/1 requirements), `DS`
//! (1-based numbers of the double-service nodes; 0 is padding), `a` (nbVehi rows
//! x nbServi 0/1 qualifications), `x`, `y`, `d` (nbNodes x nbNodes distances),
//! `p` (processing times: nbNodes*nbVehi rows x nbServi, row `node * nbVehi +
//! caregiver`: node-major, whatever the shared README says, since the all-zero
//! depot rows come first and last), `mind`/`maxd` (gap between
//! the two services of a double-service node, start to start, the
//! lower-numbered service first) and `e`/`l` (window on the service start).

use super::{
    BenchError, BenchInstance, BuilderSettings, Convention, MANKOWSKA_SCALE, MAX_SCALED,
    ProblemBuilder, VisitSpec, base_weights, scaled, shown,
};
use crate::model::{LatenessRule, Minute, SkillSet};

/// Largest distance, time or gap accepted.
const MAX_VALUE: f64 = 1e6;

const KEYWORDS: &[&str] = &[
    "nbNodes", "nbVehi", "nbServi", "r", "DS", "a", "x", "y", "d", "p", "mind", "maxd", "e", "l",
];

/// A parsed, consistency-checked instance.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct MankowskaData {
    pub nodes: usize,
    pub vehicles: usize,
    pub services: usize,
    /// `r[node][service]`.
    pub r: Vec<Vec<bool>>,
    /// Double-service nodes, 0-based.
    pub ds: Vec<usize>,
    /// `a[caregiver][service]`.
    pub a: Vec<Vec<bool>>,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub d: Vec<Vec<f64>>,
    /// `p[node][caregiver][service]`.
    pub p: Vec<Vec<Vec<f64>>>,
    pub mind: Vec<f64>,
    pub maxd: Vec<f64>,
    pub e: Vec<f64>,
    pub l: Vec<f64>,
    /// Line of each node's `l` value, for messages.
    pub l_line: Vec<usize>,
}

/// One keyword block: its line and its tokens with their lines.
struct Block<'a> {
    name: &'a str,
    line: usize,
    tokens: Vec<(usize, &'a str)>,
}

impl Block<'_> {
    fn numbers(&self, min: f64, max: f64) -> Result<Vec<(usize, f64)>, BenchError> {
        self.tokens
            .iter()
            .map(|&(line, t)| match t.parse::<f64>() {
                Ok(v) if v.is_finite() && (min..=max).contains(&v) => Ok((line, v)),
                Ok(v) => Err(BenchError::Invalid {
                    line,
                    message: format!("value {v} in block `{}` is outside {min}..{max}", self.name),
                }),
                Err(_) => Err(BenchError::Syntax {
                    line,
                    expected: format!("a number in block `{}`", self.name),
                    found: shown(t),
                }),
            })
            .collect()
    }

    /// Exactly `len` numbers, laid out in any way.
    fn vector(&self, len: usize, what: &str, min: f64) -> Result<Vec<(usize, f64)>, BenchError> {
        let v = self.numbers(min, MAX_VALUE)?;
        if v.len() != len {
            return Err(self.count_error(len, v.len(), what));
        }
        Ok(v)
    }

    /// `rows` lines of exactly `cols` numbers.
    fn matrix(
        &self,
        rows: usize,
        cols: usize,
        what: &str,
        (min, max): (f64, f64),
    ) -> Result<Vec<Vec<(usize, f64)>>, BenchError> {
        let v = self.numbers(min, max)?;
        let mut out: Vec<Vec<(usize, f64)>> = Vec::new();
        for (line, x) in v {
            match out.last_mut() {
                Some(row) if row.first().is_some_and(|f| f.0 == line) => row.push((line, x)),
                _ => out.push(vec![(line, x)]),
            }
        }
        for row in &out {
            if row.len() != cols {
                return Err(BenchError::Syntax {
                    line: row[0].0,
                    expected: format!("{cols} numbers (one row of `{}`: {what})", self.name),
                    found: format!("{} numbers", row.len()),
                });
            }
        }
        if out.len() != rows {
            return Err(self.count_error(rows * cols, out.len() * cols, what));
        }
        Ok(out)
    }

    fn count_error(&self, want: usize, got: usize, what: &str) -> BenchError {
        BenchError::Invalid {
            line: self.line,
            message: format!(
                "block `{}` should hold {want} numbers ({what}) but holds {got}{}",
                self.name,
                if got < want {
                    " (is the file truncated?)"
                } else {
                    ""
                }
            ),
        }
    }

    /// A single whole number in `[min, max]`.
    fn count(&self, min: usize, max: usize) -> Result<usize, BenchError> {
        let v = self.numbers(0.0, 1e9)?;
        match v.as_slice() {
            [(line, x)] => {
                if x.fract() != 0.0 || *x < min as f64 || *x > max as f64 {
                    return Err(BenchError::Invalid {
                        line: *line,
                        message: format!(
                            "`{}` must be a whole number in {min}..{max}, found {x}",
                            self.name
                        ),
                    });
                }
                Ok(*x as usize)
            }
            _ => Err(self.count_error(1, v.len(), "one whole number")),
        }
    }
}

/// Splits the text into keyword blocks.
fn blocks(text: &str) -> Result<Vec<Block<'_>>, BenchError> {
    let mut out: Vec<Block> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let tokens: Vec<&str> = raw.split_whitespace().collect();
        let keyword = match tokens.as_slice() {
            [t] if t.starts_with(|c: char| c.is_ascii_alphabetic()) => Some(*t),
            _ => None,
        };
        if let Some(k) = keyword {
            let Some(&name) = KEYWORDS.iter().find(|w| **w == k) else {
                return Err(BenchError::Syntax {
                    line,
                    expected: format!("a block keyword ({})", KEYWORDS.join(", ")),
                    found: shown(k),
                });
            };
            if out.iter().any(|b| b.name == name) {
                return Err(BenchError::Invalid {
                    line,
                    message: format!("block `{name}` appears twice"),
                });
            }
            out.push(Block {
                name,
                line,
                tokens: Vec::new(),
            });
        } else if !tokens.is_empty() {
            let Some(block) = out.last_mut() else {
                return Err(BenchError::Syntax {
                    line,
                    expected: "the `nbNodes` keyword".into(),
                    found: shown(raw),
                });
            };
            block.tokens.extend(tokens.into_iter().map(|t| (line, t)));
        }
    }
    Ok(out)
}

/// Parses and checks the text; every malformed part gives an error with a line number.
pub(super) fn parse(text: &str) -> Result<MankowskaData, BenchError> {
    let all = blocks(text)?;
    let block = |name: &str| -> Result<&Block, BenchError> {
        all.iter()
            .find(|b| b.name == name)
            .ok_or_else(|| BenchError::UnexpectedEnd {
                expected: format!("block `{name}`"),
            })
    };
    let n = block("nbNodes")?.count(3, 10_000)?;
    let nv = block("nbVehi")?.count(1, 1_000)?;
    let ns = block("nbServi")?.count(1, 64)?;
    // 0/1 matrices, with the line of each row.
    let flags =
        |b: &Block, rows: usize, what: &str| -> Result<Vec<(usize, Vec<bool>)>, BenchError> {
            let m = b.matrix(rows, ns, what, (0.0, MAX_VALUE))?;
            m.into_iter()
                .map(|row| {
                    let line = row[0].0;
                    let bits = row
                        .into_iter()
                        .map(|(line, v)| {
                            if v == 0.0 || v == 1.0 {
                                Ok(v == 1.0)
                            } else {
                                Err(BenchError::Invalid {
                                    line,
                                    message: format!("`{}` holds 0 or 1, found {v}", b.name),
                                })
                            }
                        })
                        .collect::<Result<Vec<bool>, BenchError>>()?;
                    Ok((line, bits))
                })
                .collect()
        };
    let r_rows = flags(block("r")?, n, "a node's 0/1 service requirements")?;
    let r_lines: Vec<usize> = r_rows.iter().map(|x| x.0).collect();
    let r: Vec<Vec<bool>> = r_rows.into_iter().map(|x| x.1).collect();
    let a: Vec<Vec<bool>> = flags(block("a")?, nv, "a caregiver's 0/1 qualifications")?
        .into_iter()
        .map(|x| x.1)
        .collect();
    let mut ds = Vec::new();
    for (line, v) in block("DS")?.numbers(0.0, 1e9)? {
        if v == 0.0 {
            continue; // padding
        }
        if v.fract() != 0.0 || v < 2.0 || v > (n - 1) as f64 {
            return Err(BenchError::Invalid {
                line,
                message: format!(
                    "double-service node {v} is not a patient: expected a 1-based node number in 2..{}",
                    n - 1
                ),
            });
        }
        let node = v as usize - 1;
        if ds.contains(&node) {
            return Err(BenchError::Invalid {
                line,
                message: format!("double-service node {v} is listed twice"),
            });
        }
        ds.push(node);
    }
    ds.sort_unstable();
    let plain = |v: Vec<(usize, f64)>| -> Vec<f64> { v.into_iter().map(|x| x.1).collect() };
    let x = plain(block("x")?.vector(n, "one x coordinate per node", -MAX_VALUE)?);
    let y = plain(block("y")?.vector(n, "one y coordinate per node", -MAX_VALUE)?);
    let d: Vec<Vec<f64>> = block("d")?
        .matrix(n, n, "a distance-matrix row", (0.0, MAX_VALUE))?
        .into_iter()
        .map(plain)
        .collect();
    let p_rows: Vec<Vec<f64>> = block("p")?
        .matrix(
            n * nv,
            ns,
            "processing times of one node and caregiver",
            (0.0, MAX_VALUE),
        )?
        .into_iter()
        .map(plain)
        .collect();
    let p: Vec<Vec<Vec<f64>>> = p_rows.chunks(nv).map(<[Vec<f64>]>::to_vec).collect();
    let mind = block("mind")?.vector(n, "one minimum gap per node", -MAX_VALUE)?;
    let maxd = plain(block("maxd")?.vector(n, "one maximum gap per node", -MAX_VALUE)?);
    let e = plain(block("e")?.vector(n, "one window start per node", 0.0)?);
    let l_full = block("l")?.vector(n, "one window end per node", 0.0)?;
    let l_line: Vec<usize> = l_full.iter().map(|x| x.0).collect();
    let l = plain(l_full);

    for i in 1..n - 1 {
        let k = r[i].iter().filter(|&&b| b).count();
        let double = ds.binary_search(&i).is_ok();
        let want = if double { 2 } else { 1 };
        if k != want {
            return Err(BenchError::Invalid {
                line: r_lines[i],
                message: format!(
                    "patient node {} requires {k} services but is {}listed in `DS`: expected {want}",
                    i + 1,
                    if double { "" } else { "not " }
                ),
            });
        }
        if e[i] > l[i] {
            return Err(BenchError::Invalid {
                line: l_line[i],
                message: format!(
                    "time window [{}, {}] of node {} is empty",
                    e[i],
                    l[i],
                    i + 1
                ),
            });
        }
        if double && mind[i].1 > maxd[i] {
            return Err(BenchError::Invalid {
                line: mind[i].0,
                message: format!(
                    "node {}: minimum gap {} exceeds maximum gap {}",
                    i + 1,
                    mind[i].1,
                    maxd[i]
                ),
            });
        }
    }
    Ok(MankowskaData {
        nodes: n,
        vehicles: nv,
        services: ns,
        r,
        ds,
        a,
        x,
        y,
        d,
        p,
        mind: plain(mind),
        maxd,
        e,
        l,
        l_line,
    })
}

/// Processing time of `service` at `node`: the longest among qualified caregivers
/// (the engine has one duration per visit; published instances use one value).
fn duration(data: &MankowskaData, node: usize, service: usize) -> f64 {
    let rows = &data.p[node];
    let qualified = rows
        .iter()
        .zip(&data.a)
        .filter(|(_, a)| a[service])
        .map(|(row, _)| row[service])
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    qualified.unwrap_or_else(|| rows.iter().map(|row| row[service]).fold(0.0, f64::max))
}

/// Scaled travel rounded up, so the engine's schedule is feasible with exact distances.
fn travel_units(d: f64) -> u32 {
    let v = (d * MANKOWSKA_SCALE - 1e-9).ceil();
    if v <= 0.0 { 0 } else { v as u32 }
}

/// Builds the engine problem: see the module docs of [`super`].
pub(super) fn build(name: &str, data: &MankowskaData) -> Result<BenchInstance, BenchError> {
    let n = data.nodes;
    let last = n - 1;
    let minutes: Vec<Vec<u32>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    if i == j {
                        0
                    } else {
                        travel_units(data.d[i][j])
                    }
                })
                .collect()
        })
        .collect();
    let dist: Vec<Vec<f64>> = data
        .d
        .iter()
        .map(|row| row.iter().map(|&v| v * MANKOWSKA_SCALE).collect())
        .collect();

    // A shift end no schedule with unbounded tardiness needs to exceed: every
    // visit done one after another, each after its longest incoming leg, plus gaps.
    let line0 = data.l_line[0];
    let open = scaled(data.e[0], MANKOWSKA_SCALE, line0, "depot window start")?;
    let mut span = i64::from(open);
    for i in 0..n {
        let end = scaled(
            data.e[i].max(data.l[i]),
            MANKOWSKA_SCALE,
            data.l_line[i],
            "window",
        )?;
        span = span.max(i64::from(end));
    }
    for i in 1..last {
        let longest_in = minutes
            .iter()
            .map(|row| i64::from(row[i]))
            .max()
            .unwrap_or(0);
        for s in 0..data.services {
            if data.r[i][s] {
                let dur = scaled(
                    duration(data, i, s),
                    MANKOWSKA_SCALE,
                    data.l_line[i],
                    "processing time",
                )?;
                span += i64::from(dur) + longest_in;
            }
        }
    }
    for &i in &data.ds {
        span += i64::from(scaled(
            data.maxd[i].abs(),
            MANKOWSKA_SCALE,
            data.l_line[i],
            "gap",
        )?);
    }
    span += minutes
        .iter()
        .map(|row| i64::from(row[last]))
        .max()
        .unwrap_or(0);
    let close = span.saturating_mul(2);
    if close > MAX_SCALED {
        return Err(BenchError::Instance(format!(
            "instance `{name}` spans too long a time to schedule in whole minutes"
        )));
    }
    let close = close as Minute;

    let third = 1.0 / 3.0;
    let mut weights = base_weights();
    weights.travel_min = third;
    weights.commute_min = third;
    weights.worst_late_min = third;
    let coords: Vec<(f64, f64)> = data.x.iter().copied().zip(data.y.iter().copied()).collect();
    let mut b = ProblemBuilder::new(
        BuilderSettings {
            skills: (1..=data.services).map(|s| format!("service{s}")).collect(),
            lateness: LatenessRule::Soft {
                max_late_min: close,
                cost_per_min: third,
            },
            weights,
        },
        &coords,
        minutes,
    )?;
    for (v, quals) in data.a.iter().enumerate() {
        let mask = quals
            .iter()
            .enumerate()
            .filter(|(_, q)| **q)
            .fold(0u64, |m, (s, _)| m | 1 << s);
        b.carer(
            format!("caregiver{}", v + 1),
            SkillSet(mask),
            None,
            (open, close),
            (0, last),
        );
    }
    let mut visit_node = Vec::new();
    let mut visit_service = Vec::new();
    for i in 1..last {
        let line = data.l_line[i];
        let pkg = b.person(format!("patient{i}"), i);
        let window = (
            scaled(data.e[i], MANKOWSKA_SCALE, line, "window start")?,
            scaled(data.l[i], MANKOWSKA_SCALE, line, "window end")?,
        );
        let mut made = Vec::new();
        for s in (0..data.services).filter(|&s| data.r[i][s]) {
            let dur = scaled(
                duration(data, i, s),
                MANKOWSKA_SCALE,
                line,
                "processing time",
            )?;
            made.push(b.visit(
                pkg,
                &format!("service{}", s + 1),
                window,
                VisitSpec {
                    duration: dur,
                    skills: SkillSet(1 << s),
                    demand: 0,
                },
            ));
            visit_node.push(i);
            visit_service.push(s);
        }
        if let [first, then] = made[..] {
            let gap = (
                scaled(data.mind[i], MANKOWSKA_SCALE, line, "minimum gap")?,
                scaled(data.maxd[i], MANKOWSKA_SCALE, line, "maximum gap")?,
            );
            b.link(first, then, gap);
        }
    }
    Ok(BenchInstance {
        name: name.to_string(),
        problem: b.finish(),
        convention: Convention::Mankowska,
        scale: MANKOWSKA_SCALE,
        dist,
        depot_start: 0,
        depot_end: last,
        visit_node,
        visit_service,
    })
}
