// hls.js ships no types for its "light" build (same API, fewer features: no subtitles, no
// alternate audio, no DRM), so they are borrowed from the full build.
declare module 'hls.js/light' {
  import Hls from 'hls.js';
  export default Hls;
}
