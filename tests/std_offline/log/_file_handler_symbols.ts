// Offline stand-in: FileHandler's state lives behind these package-private
// symbols, as upstream, so code outside the package cannot reach it.
export const fileSymbol = Symbol("file");
export const bufSymbol = Symbol("buf");
export const pointerSymbol = Symbol("pointer");
export const filenameSymbol = Symbol("filename");
export const modeSymbol = Symbol("mode");
export const openOptionsSymbol = Symbol("openOptions");
export const encoderSymbol = Symbol("encoder");
