//! GeoJSON import and export of road networks.
//!
//! Road data usually arrives as GeoJSON lines (an OSM extract, a council's
//! highway layer). Each `LineString` is a road: consecutive positions become
//! edges, and positions shared between lines (equal to 1e-7 degrees, about
//! 1 cm) become one junction. Properties: `speed_kmh` (number, default 48),
//! `oneway` (bool or `"yes"`/`"no"`, default false) and, on two-position lines
//! only, `length_m` (number).

use super::coords_ok;
use crate::format::{RoadEdge, RoadNetworkSpec, RoadNode};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Speed of a line without a `speed_kmh` property, km/h (UK urban-ish average).
const DEFAULT_SPEED_KMH: f64 = 48.0;
/// Positions are merged when equal at this many steps per degree (1e-7 degrees).
const SNAP_PER_DEGREE: f64 = 1e7;

/// Parses a GeoJSON `FeatureCollection` of `LineString` (or `MultiLineString`)
/// features into a road network. Other geometries are skipped.
///
/// Node ids are `n0`, `n1`, ... in order of first appearance; `parking_min` and
/// `access_kmh` take their defaults. Errors name the offending feature.
pub fn road_network_from_geojson(text: &str) -> Result<RoadNetworkSpec, String> {
    let root: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    if root.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err("the top level must be a GeoJSON FeatureCollection".into());
    }
    let features = root
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| "FeatureCollection.features must be an array".to_string())?;

    let mut nodes: Vec<RoadNode> = Vec::new();
    let mut by_key: HashMap<(i64, i64), usize> = HashMap::new();
    let mut edges: Vec<RoadEdge> = Vec::new();

    for (fi, feature) in features.iter().enumerate() {
        let at = format!("features[{fi}]");
        let props = feature.get("properties").filter(|p| !p.is_null());
        let prop = |name: &str| props.and_then(|p| p.get(name)).filter(|v| !v.is_null());
        let speed_kmh = match prop("speed_kmh") {
            None => DEFAULT_SPEED_KMH,
            Some(v) => v
                .as_f64()
                .ok_or_else(|| format!("{at}.properties.speed_kmh must be a number"))?,
        };
        let oneway = match prop("oneway") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s == "yes" => true,
            Some(Value::String(s)) if s == "no" => false,
            Some(_) => {
                return Err(format!(
                    "{at}.properties.oneway must be true/false or \"yes\"/\"no\""
                ));
            }
        };
        let length_m = match prop("length_m") {
            None => None,
            Some(v) => Some(
                v.as_f64()
                    .ok_or_else(|| format!("{at}.properties.length_m must be a number"))?,
            ),
        };

        let Some(geometry) = feature.get("geometry").filter(|g| !g.is_null()) else {
            continue;
        };
        let coords = geometry.get("coordinates");
        let lines: Vec<&Value> = match geometry.get("type").and_then(Value::as_str) {
            Some("LineString") => {
                vec![coords.ok_or_else(|| format!("{at}.geometry.coordinates is missing"))?]
            }
            Some("MultiLineString") => coords
                .and_then(Value::as_array)
                .ok_or_else(|| format!("{at}.geometry.coordinates must be an array of lines"))?
                .iter()
                .collect(),
            _ => continue,
        };
        for (li, line) in lines.into_iter().enumerate() {
            let positions = line
                .as_array()
                .ok_or_else(|| format!("{at}.geometry: line {li} must be an array of positions"))?;
            if positions.len() < 2 {
                return Err(format!(
                    "{at}.geometry: line {li} needs at least 2 positions"
                ));
            }
            if length_m.is_some() && positions.len() != 2 {
                return Err(format!(
                    "{at}.properties.length_m is only allowed on a line of exactly 2 positions"
                ));
            }
            let mut prev: Option<usize> = None;
            for (pi, pos) in positions.iter().enumerate() {
                let (lat, lon) = position(pos).ok_or_else(|| {
                    format!(
                        "{at}.geometry: line {li} position {pi} must be [lon, lat] on the globe"
                    )
                })?;
                let key = (
                    (lat * SNAP_PER_DEGREE).round() as i64,
                    (lon * SNAP_PER_DEGREE).round() as i64,
                );
                let ix = *by_key.entry(key).or_insert_with(|| {
                    nodes.push(RoadNode {
                        id: format!("n{}", nodes.len()),
                        lat,
                        lon,
                    });
                    nodes.len() - 1
                });
                if let Some(p) = prev.filter(|&p| p != ix) {
                    edges.push(RoadEdge {
                        from: nodes.get(p).map(|n| n.id.clone()).unwrap_or_default(),
                        to: nodes.get(ix).map(|n| n.id.clone()).unwrap_or_default(),
                        length_m,
                        speed_kmh,
                        oneway,
                    });
                }
                prev = Some(ix);
            }
        }
    }
    if edges.is_empty() {
        return Err("no LineString features with at least one segment".into());
    }
    Ok(RoadNetworkSpec {
        nodes,
        edges,
        parking_min: 2,
        access_kmh: 4.5,
    })
}

/// A GeoJSON position `[lon, lat, ...]` as (lat, lon), if valid.
fn position(v: &Value) -> Option<(f64, f64)> {
    let a = v.as_array()?;
    let (lon, lat) = (a.first()?.as_f64()?, a.get(1)?.as_f64()?);
    coords_ok(lat, lon).then_some((lat, lon))
}

/// Writes a road network as a GeoJSON `FeatureCollection`, one feature per line.
///
/// Consecutive edges that continue each other with the same speed and
/// direction are merged into one `LineString`, as real road layers are;
/// an edge with an explicit `length_m` keeps its own two-position line.
/// Nodes on no edge are dropped (GeoJSON has no place for them), and
/// `parking_min`/`access_kmh` are not written. Fails on an unknown node id.
pub fn road_network_to_geojson(spec: &RoadNetworkSpec) -> Result<String, String> {
    let nodes: HashMap<&str, &RoadNode> = spec.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let pos = |id: &str| {
        nodes
            .get(id)
            .map(|n| json!([n.lon, n.lat]))
            .ok_or_else(|| format!("edge refers to unknown node {id:?}"))
    };
    let mut features: Vec<String> = Vec::new();
    let mut current: Option<(Vec<Value>, &RoadEdge)> = None;
    let flush = |line: Option<(Vec<Value>, &RoadEdge)>, out: &mut Vec<String>| {
        if let Some((coords, e)) = line {
            let mut props = serde_json::Map::new();
            props.insert("speed_kmh".into(), json!(e.speed_kmh));
            if e.oneway {
                props.insert("oneway".into(), json!(true));
            }
            if let Some(l) = e.length_m {
                props.insert("length_m".into(), json!(l));
            }
            // Written by hand so that "type" comes first, as GeoJSON readers print it.
            out.push(format!(
                "{{\"type\":\"Feature\",\"properties\":{},\"geometry\":{{\"type\":\"LineString\",\"coordinates\":{}}}}}",
                Value::Object(props),
                Value::Array(coords)
            ));
        }
    };
    let mut last_to: Option<&str> = None;
    for e in &spec.edges {
        let continues = match &current {
            Some((_, prev)) => {
                last_to == Some(e.from.as_str())
                    && prev.speed_kmh == e.speed_kmh
                    && prev.oneway == e.oneway
                    && prev.length_m.is_none()
                    && e.length_m.is_none()
            }
            None => false,
        };
        if continues {
            if let Some((coords, _)) = current.as_mut() {
                coords.push(pos(&e.to)?);
            }
        } else {
            flush(current.take(), &mut features);
            current = Some((vec![pos(&e.from)?, pos(&e.to)?], e));
        }
        last_to = Some(e.to.as_str());
    }
    flush(current.take(), &mut features);
    Ok(format!(
        "{{\"type\":\"FeatureCollection\",\"features\":[\n{}\n]}}\n",
        features.join(",\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Issues, Location, TravelMode};
    use crate::travel::{RoadNetworkModel, TravelModel, synthetic_town_network};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::HashSet;

    const FIXTURE_JSON: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/roads/mid_devon_town.json"
    );
    const FIXTURE_GEOJSON: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/roads/mid_devon_town.geojson"
    );

    #[test]
    fn lines_share_nodes_and_carry_properties() {
        let text = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"speed_kmh":30,"oneway":true},
           "geometry":{"type":"LineString","coordinates":[[-3.0,50.0],[-3.001,50.0],[-3.002,50.0005]]}},
          {"type":"Feature","properties":null,
           "geometry":{"type":"LineString","coordinates":[[-3.00100000001,50.00000000002],[-3.001,50.001,12.5]]}},
          {"type":"Feature","properties":{"oneway":"no","length_m":99.5},
           "geometry":{"type":"MultiLineString","coordinates":[[[-3.0,50.0],[-3.0,50.002]]]}},
          {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[-3.0,50.0]}}
        ]}"#;
        let spec = road_network_from_geojson(text).unwrap();
        assert_eq!(spec.nodes.len(), 5);
        assert_eq!(spec.edges.len(), 4);
        let e = &spec.edges;
        assert_eq!(
            (
                e[0].from.as_str(),
                e[0].to.as_str(),
                e[0].speed_kmh,
                e[0].oneway
            ),
            ("n0", "n1", 30.0, true)
        );
        assert_eq!((e[1].from.as_str(), e[1].to.as_str()), ("n1", "n2"));
        // The second line starts on n1 (within 1e-7 degrees) and uses the defaults.
        assert_eq!(
            (
                e[2].from.as_str(),
                e[2].to.as_str(),
                e[2].speed_kmh,
                e[2].oneway
            ),
            ("n1", "n3", 48.0, false)
        );
        assert_eq!(
            (e[3].from.as_str(), e[3].to.as_str(), e[3].length_m),
            ("n0", "n4", Some(99.5))
        );
        assert!(RoadNetworkModel::build(&spec, &mut Issues::default()).is_some());
    }

    #[test]
    fn bad_geojson_is_an_error_not_a_panic() {
        let cases = [
            "",
            "[]",
            r#"{"type":"Feature"}"#,
            r#"{"type":"FeatureCollection"}"#,
            r#"{"type":"FeatureCollection","features":[]}"#,
            r#"{"type":"FeatureCollection","features":[{"geometry":{"type":"LineString","coordinates":[[0,0]]}}]}"#,
            r#"{"type":"FeatureCollection","features":[{"geometry":{"type":"LineString","coordinates":[[0,0],[0,"x"]]}}]}"#,
            r#"{"type":"FeatureCollection","features":[{"geometry":{"type":"LineString","coordinates":[[0,0],[0,91]]}}]}"#,
            r#"{"type":"FeatureCollection","features":[{"properties":{"speed_kmh":"fast"},"geometry":{"type":"LineString","coordinates":[[0,0],[0,1]]}}]}"#,
            r#"{"type":"FeatureCollection","features":[{"properties":{"oneway":1},"geometry":{"type":"LineString","coordinates":[[0,0],[0,1]]}}]}"#,
            r#"{"type":"FeatureCollection","features":[{"properties":{"length_m":5},"geometry":{"type":"LineString","coordinates":[[0,0],[0,1],[0,2]]}}]}"#,
            r#"{"type":"FeatureCollection","features":[{"geometry":{"type":"MultiLineString","coordinates":5}}]}"#,
        ];
        for text in cases {
            assert!(road_network_from_geojson(text).is_err(), "{text}");
        }
    }

    /// An edge as (from position, to position, speed bits, oneway), independent of node ids.
    type EdgeKey = ((i64, i64), (i64, i64), u64, bool);

    fn edge_set(spec: &RoadNetworkSpec) -> HashSet<EdgeKey> {
        let key = |id: &str| {
            let n = spec.nodes.iter().find(|n| n.id == id).unwrap();
            ((n.lat * 1e7).round() as i64, (n.lon * 1e7).round() as i64)
        };
        spec.edges
            .iter()
            .map(|e| (key(&e.from), key(&e.to), e.speed_kmh.to_bits(), e.oneway))
            .collect()
    }

    #[test]
    fn fixture_geojson_round_trips_to_the_json_fixture() {
        let json: RoadNetworkSpec =
            serde_json::from_str(&std::fs::read_to_string(FIXTURE_JSON).unwrap()).unwrap();
        let geo =
            road_network_from_geojson(&std::fs::read_to_string(FIXTURE_GEOJSON).unwrap()).unwrap();
        assert_eq!(geo.nodes.len(), json.nodes.len());
        assert_eq!(geo.edges.len(), json.edges.len());
        assert_eq!(edge_set(&geo), edge_set(&json));
        // Writing the loaded network again and reading it back changes nothing.
        let again = road_network_from_geojson(&road_network_to_geojson(&geo).unwrap()).unwrap();
        assert_eq!(again, geo);

        let (a, b) = (
            RoadNetworkModel::build(&json, &mut Issues::default()).unwrap(),
            RoadNetworkModel::build(&geo, &mut Issues::default()).unwrap(),
        );
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let locs: Vec<Location> = (0..25)
            .map(|_| Location {
                lat: 50.79 + rng.random_range(-0.08..0.08),
                lon: -3.65 + rng.random_range(-0.12..0.12),
                matrix_index: None,
            })
            .collect();
        for mode in [TravelMode::Drive, TravelMode::Walk] {
            assert_eq!(a.matrix(&locs, mode), b.matrix(&locs, mode));
        }
    }

    #[test]
    fn writer_merges_continuing_edges_into_lines() {
        let spec = synthetic_town_network((50.79, -3.65), 1);
        let text = road_network_to_geojson(&spec).unwrap();
        let features = text.lines().filter(|l| l.contains("\"Feature\"")).count();
        assert!(
            features * 3 < spec.edges.len(),
            "{features} lines for {} edges",
            spec.edges.len()
        );
        let mut bad = spec.clone();
        bad.edges[0].from = "nope".into();
        assert!(road_network_to_geojson(&bad).is_err());
    }
}
