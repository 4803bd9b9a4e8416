//! Unit tests of the GatePay batch desk's reading of the gateway's codes.

use super::*;

#[test]
fn a_duplicate_order_code_is_looked_up_never_a_refusal() {
    let refused = |code: &str| CreateBatchOutcome::Rejected {
        code: code.into(),
        meaning: "m".into(),
        message: String::new(),
    };
    for code in CODES_EXISTS {
        assert_eq!(
            trusted_batch_outcome("B1", refused(code)),
            CreateBatchOutcome::Exists {
                batch_id: "B1".into()
            },
            "{code}"
        );
    }
    assert_eq!(
        trusted_batch_outcome("B1", refused("550233")),
        refused("550233")
    );
}
