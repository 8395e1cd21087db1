export {
  AmbientLight, BufferAttribute, BufferGeometry, CanvasTexture, Color, DirectionalLight, DoubleSide,
  Float32BufferAttribute, Group, LineBasicMaterial, LineSegments, Mesh, MeshBasicMaterial, MeshLambertMaterial,
  PerspectiveCamera, Raycaster, Scene, SphereGeometry, Sprite, SpriteMaterial, SRGBColorSpace, Texture,
  Vector2, Vector3, WebGLRenderer,
} from "three";
