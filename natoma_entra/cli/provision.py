"""placeholder: `natoma-entra provision` is being written."""
