//! `podrt check`'s table: one row per item, aligned as `get` aligns its tables.

use podrt_sandbox::host_check::Item;

use super::table;

/// CHECK, STATUS and DETAIL of every item.
pub fn host_check(items: &[Item]) -> String {
    let mut text = String::from("CHECK\tSTATUS\tDETAIL\n");
    for i in items {
        text.push_str(&format!(
            "{}\t{}\t{}\n",
            i.name,
            i.status.as_str(),
            i.detail
        ));
    }
    table::GET.format(&table::escape_terminal(&text))
}
