//! `podrt network ls`: one row per network, aligned as `get` aligns its tables.

use podrt_sandbox::network::summary::NetworkSummary;

use super::table;

/// The table of `network ls`: the network new pods join is marked `*`.
pub fn networks(list: &[NetworkSummary]) -> String {
    let mut text = String::from("NAME\tSOURCE\tPLUGINS\tSUBNETS\tPODS\tIPS\n");
    for n in list {
        let name = if n.current {
            format!("{} *", n.name)
        } else {
            n.name.clone()
        };
        let source = n
            .source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built-in".into());
        let ips: Vec<String> = n.pods.iter().flat_map(|(_, ips)| ips.clone()).collect();
        let cells = [
            name,
            source,
            n.plugins.join(","),
            or_none(n.subnets.join(",")),
            n.pods.len().to_string(),
            or_none(ips.join(",")),
        ];
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    table::GET.format(&table::escape_terminal(&text))
}

fn or_none(s: String) -> String {
    if s.is_empty() {
        "<none>".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_network_row() {
        let n = NetworkSummary {
            name: "podrt".into(),
            source: None,
            plugins: vec!["bridge".into(), "portmap".into()],
            subnets: vec!["10.88.0.0/16".into()],
            current: true,
            pods: vec![("web".into(), vec!["10.88.0.2".into()])],
        };
        let out = networks(&[n]);
        let mut lines = out.lines();
        assert!(lines.next().unwrap().starts_with("NAME"));
        let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(
            row,
            [
                "podrt",
                "*",
                "built-in",
                "bridge,portmap",
                "10.88.0.0/16",
                "1",
                "10.88.0.2"
            ]
        );
    }
}
