// PalaceWire — see DESIGN.md, "The house".
