"""placeholder: `natoma-entra doctor` is being written."""
