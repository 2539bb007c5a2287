// PalaceIndex — see DESIGN.md, "The house".
