// PalaceMock — see DESIGN.md, "The house".
