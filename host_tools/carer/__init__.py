"""`pumpmon carer`: the carer's side of the MQTT link (docs/carer.md)."""
